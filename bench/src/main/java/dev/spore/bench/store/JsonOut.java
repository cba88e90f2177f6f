package dev.spore.bench.store;

import java.util.List;
import java.util.Map;

/** Just enough JSON to write bench results (maps, lists, strings, numbers, booleans); no parsing. */
final class JsonOut {

    private JsonOut() {
    }

    static String write(Object v) {
        StringBuilder b = new StringBuilder();
        write(b, v, "");
        return b.toString();
    }

    private static void write(StringBuilder b, Object v, String indent) {
        if (v instanceof Map<?, ?> m) {
            b.append("{");
            String sep = "\n";
            for (Map.Entry<?, ?> e : m.entrySet()) {
                b.append(sep).append(indent).append("  ");
                string(b, String.valueOf(e.getKey()));
                b.append(": ");
                write(b, e.getValue(), indent + "  ");
                sep = ",\n";
            }
            b.append("\n").append(indent).append("}");
        } else if (v instanceof List<?> l) {
            b.append("[");
            String sep = "\n";
            for (Object o : l) {
                b.append(sep).append(indent).append("  ");
                write(b, o, indent + "  ");
                sep = ",\n";
            }
            b.append("\n").append(indent).append("]");
        } else if (v instanceof Number || v instanceof Boolean) {
            b.append(v);
        } else {
            string(b, String.valueOf(v));
        }
    }

    private static void string(StringBuilder b, String s) {
        b.append('"');
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        b.append('"');
    }
}
