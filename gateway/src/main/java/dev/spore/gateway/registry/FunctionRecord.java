package dev.spore.gateway.registry;

import com.fasterxml.jackson.annotation.JsonAutoDetect;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;

import java.util.TreeMap;

/** A function as stored in {@code function.json}: its aliases and the next version number. */
@JsonAutoDetect(fieldVisibility = JsonAutoDetect.Visibility.ANY, getterVisibility = JsonAutoDetect.Visibility.NONE,
        isGetterVisibility = JsonAutoDetect.Visibility.NONE)
@JsonIgnoreProperties(ignoreUnknown = true)
public final class FunctionRecord {

    String name;
    String created;
    int nextVersion = 1;
    TreeMap<String, Integer> aliases = new TreeMap<>();

    FunctionRecord() {
        // for Jackson
    }

    FunctionRecord(String name, String created) {
        this.name = name;
        this.created = created;
    }

    public String name() {
        return name;
    }

    public String created() {
        return created;
    }

    public synchronized TreeMap<String, Integer> aliases() {
        return new TreeMap<>(aliases);
    }
}
