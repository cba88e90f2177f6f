package dev.spore.gateway.http;

import dev.spore.gateway.Gateway;
import dev.spore.gateway.InstanceRecord;
import dev.spore.gateway.pool.PoolStats;
import dev.spore.gateway.registry.FunctionRecord;
import dev.spore.gateway.registry.VersionRecord;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The JSON shapes of list and describe, built from the registry and the pools. */
final class Views {

    private Views() {
    }

    static Map<String, Object> summary(Gateway g, FunctionRecord f) {
        List<VersionRecord> versions = g.registry().versions(f.name());
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", f.name());
        VersionRecord last = versions.isEmpty() ? null : versions.get(versions.size() - 1);
        m.put("versions", versions.size());
        m.put("latestReady", versions.stream().filter(VersionRecord::ready).mapToInt(VersionRecord::version).max().orElse(0));
        m.put("newest", last == null ? null : Map.of("version", last.version(), "status", last.status()));
        int live = 0;
        for (VersionRecord v : versions) {
            live += g.stats(v).live();
        }
        m.put("instances", live);
        m.put("aliases", f.aliases());
        return m;
    }

    static Map<String, Object> function(Gateway g, String name) {
        FunctionRecord f = g.registry().function(name);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", f.name());
        m.put("created", f.created());
        m.put("aliases", f.aliases());
        List<Object> versions = new ArrayList<>();
        for (VersionRecord v : g.registry().versions(name)) {
            versions.add(version(g, v));
        }
        m.put("versions", versions);
        m.put("recentInstances", g.history().of(name).stream().limit(20).toList());
        return m;
    }

    static Map<String, Object> version(Gateway g, VersionRecord v) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("function", v.function());
        m.put("version", v.version());
        m.put("status", v.status());
        if (v.reason() != null) {
            m.put("reason", v.reason());
        }
        m.put("handler", v.handler());
        m.put("settings", v.settings());
        m.put("snapshot", v.snapshot());
        m.put("imageBytes", v.imageBytes());
        m.put("stages", v.stages());
        PoolStats s = g.stats(v);
        m.put("pool", s);
        return m;
    }

    static List<InstanceRecord> instances(Gateway g, String name) {
        g.registry().function(name);
        return g.history().of(name);
    }
}
