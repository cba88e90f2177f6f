package dev.spore.host.internal;

import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What to do with a descriptor the application still holds at checkpoint, per type and path: CRaC's resource
 * policies ({@code jdk.crac.resource-policies}), same file format, read from the file named by the system property
 * {@value #PROPERTY} (a function passes it as a JVM option).
 *
 * <pre>
 * # rules are separated by a line of three dashes; '#' starts a comment; the first matching rule wins
 * type: file                 # file | socket
 * path: /var/log/app/*.log   # glob (java.nio PathMatcher syntax); omitted: every descriptor of the type
 * action: reopen             # error | ignore | close | reopen
 * ---
 * type: socket
 * action: close
 * </pre>
 *
 * <p>Actions: {@code error} refuses the checkpoint naming the descriptor (the default, as without a rule);
 * {@code ignore} leaves it to CRIU (a file is then reopened by CRIU at its path and offset, and the restore fails if
 * the file is missing or, unless it was opened write-only for appending, has another size); {@code close} makes the
 * descriptor dead before the dump (reads see end of file, writes fail), keeping its number taken so that no later
 * open reuses it under the application's feet; {@code reopen} (files only) does the same and then opens the file
 * again at restore: for appending when it was opened so (a log file: siblings append to one file, created if it is
 * missing, e.g. on another node), else at the same offset. A socket's path, for matching, is its unix path; TCP and
 * UDP sockets match only rules without a path. Bad files are refused at checkpoint with the file and line.
 */
final class ResourcePolicies {

    static final String PROPERTY = "spore.resource-policies";

    enum Action { ERROR, IGNORE, CLOSE, REOPEN }

    private record Rule(String type, PathMatcher path, Action action) {
    }

    private static final ResourcePolicies NONE = new ResourcePolicies(List.of());

    private final List<Rule> rules;

    private ResourcePolicies(List<Rule> rules) {
        this.rules = rules;
    }

    /** The rules of the file named by {@value #PROPERTY}, or none. */
    static ResourcePolicies load() throws IOException {
        String file = System.getProperty(PROPERTY);
        if (file == null || file.isBlank()) {
            return NONE;
        }
        Path p = Paths.get(file);
        List<String> lines;
        try {
            lines = Files.readAllLines(p);
        } catch (IOException e) {
            throw new IOException("-D" + PROPERTY + "=" + file + ": cannot read the resource policy file (" + e
                    + "): give the function a readable file, or drop the option", e);
        }
        return parse(lines, file);
    }

    static ResourcePolicies parse(List<String> lines, String source) throws IOException {
        List<Rule> rules = new ArrayList<>();
        Map<String, String> rule = new HashMap<>();
        int start = 1;
        for (int i = 0; i <= lines.size(); i++) {
            String line = i < lines.size() ? strip(lines.get(i)) : "---";
            if (line.equals("---")) {
                if (!rule.isEmpty()) {
                    rules.add(rule(rule, source, start));
                }
                rule.clear();
                start = i + 2;
                continue;
            }
            if (line.isEmpty()) {
                continue;
            }
            int colon = line.indexOf(':');
            String key = colon < 0 ? "" : line.substring(0, colon).trim().toLowerCase(Locale.ROOT);
            if (!key.equals("type") && !key.equals("path") && !key.equals("action")) {
                throw new IOException(source + ":" + (i + 1) + ": expected 'type: ...', 'path: ...' or 'action: ...', found '"
                        + line + "' (rules are separated by '---')");
            }
            rule.put(key, unquote(line.substring(colon + 1).trim()));
        }
        return new ResourcePolicies(List.copyOf(rules));
    }

    private static Rule rule(Map<String, String> r, String source, int line) throws IOException {
        String type = r.getOrDefault("type", "").toLowerCase(Locale.ROOT);
        if (!type.equals("file") && !type.equals("socket")) {
            throw new IOException(source + ":" + line + ": type '" + r.get("type") + "' is not one of file, socket");
        }
        Action action;
        try {
            action = Action.valueOf(r.getOrDefault("action", "").toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IOException(source + ":" + line + ": action '" + r.get("action") + "' is not one of error, ignore, close, reopen");
        }
        if (action == Action.REOPEN && type.equals("socket")) {
            throw new IOException(source + ":" + line + ": a socket cannot be reopened (its peer is gone after restore): use close");
        }
        String glob = r.get("path");
        PathMatcher m = glob == null ? null : FileSystems.getDefault().getPathMatcher("glob:" + glob);
        return new Rule(type, m, action);
    }

    /** The action for a descriptor of {@code type} ("file" or "socket") naming {@code path}; ERROR without a rule. */
    Action actionFor(String type, String path) {
        for (Rule r : rules) {
            if (r.type.equals(type) && (r.path == null || r.path.matches(Paths.get(path)))) {
                return r.action;
            }
        }
        return Action.ERROR;
    }

    boolean isEmpty() {
        return rules.isEmpty();
    }

    private static String strip(String line) {
        int hash = line.indexOf('#');
        return (hash < 0 ? line : line.substring(0, hash)).trim();
    }

    private static String unquote(String v) {
        if (v.length() >= 2 && (v.startsWith("\"") && v.endsWith("\"") || v.startsWith("'") && v.endsWith("'"))) {
            return v.substring(1, v.length() - 1);
        }
        return v;
    }
}
