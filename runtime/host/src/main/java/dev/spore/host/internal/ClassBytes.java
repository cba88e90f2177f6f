package dev.spore.host.internal;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.Map;

/**
 * The smallest class-file editing {@link UnseededRandoms} needs, on a stock JDK 17 that exports no class-file
 * library (its ASM copy is internal, {@code java.lang.classfile} came in JDK 24) and with no dependency of the
 * host's: append constant-pool entries, and insert straight-line code before the single {@code return} of a method
 * without branches or exception handlers. Straight-line code at the end of such a method needs no stack map frames
 * and moves no existing offset, so line numbers and local variable ranges stay valid. Anything else is refused
 * (null), and the caller leaves the class alone.
 */
final class ClassBytes {

    private final byte[] original;
    /** The constant pool as written (original entries then appended ones), without its count. */
    private final ByteArrayOutputStream pool = new ByteArrayOutputStream();
    private final DataOutputStream poolOut = new DataOutputStream(pool);
    private final Map<String, Integer> added = new HashMap<>();
    private final Map<Integer, String> utf8 = new HashMap<>();
    private int count;
    /** Offset in {@link #original} just after the constant pool. */
    private final int afterPool;

    ClassBytes(byte[] classFile) {
        this.original = classFile;
        ByteBuffer b = ByteBuffer.wrap(classFile);
        if (b.getInt() != 0xCAFEBABE) {
            throw new IllegalArgumentException("not a class file");
        }
        b.getInt(); // minor, major
        count = b.getShort() & 0xFFFF;
        int start = b.position();
        for (int i = 1; i < count; i++) {
            int tag = b.get() & 0xFF;
            switch (tag) {
                case 1 -> {
                    int len = b.getShort() & 0xFFFF;
                    utf8.put(i, new String(classFile, b.position(), len, java.nio.charset.StandardCharsets.UTF_8)); // ASCII names suffice
                    b.position(b.position() + len);
                }
                case 3, 4, 9, 10, 11, 12, 17, 18 -> b.position(b.position() + 4);
                case 5, 6 -> {
                    b.position(b.position() + 8);
                    i++;
                }
                case 7, 8, 16, 19, 20 -> b.position(b.position() + 2);
                case 15 -> b.position(b.position() + 3);
                default -> throw new IllegalArgumentException("unknown constant pool tag " + tag);
            }
        }
        afterPool = b.position();
        pool.write(classFile, start, afterPool - start);
    }

    int utf8(String s) {
        return add("U" + s, () -> {
            poolOut.writeByte(1);
            poolOut.writeUTF(s);
        });
    }

    int classRef(String internalName) {
        int name = utf8(internalName);
        return add("C" + internalName, () -> {
            poolOut.writeByte(7);
            poolOut.writeShort(name);
        });
    }

    int fieldRef(String owner, String name, String desc) {
        return memberRef(9, owner, name, desc);
    }

    int methodRef(String owner, String name, String desc) {
        return memberRef(10, owner, name, desc);
    }

    int interfaceMethodRef(String owner, String name, String desc) {
        return memberRef(11, owner, name, desc);
    }

    private int memberRef(int tag, String owner, String name, String desc) {
        int c = classRef(owner);
        int n = utf8(name);
        int d = utf8(desc);
        int nt = add("N" + name + desc, () -> {
            poolOut.writeByte(12);
            poolOut.writeShort(n);
            poolOut.writeShort(d);
        });
        return add(tag + owner + "." + name + desc, () -> {
            poolOut.writeByte(tag);
            poolOut.writeShort(c);
            poolOut.writeShort(nt);
        });
    }

    private interface Write {
        void to() throws IOException;
    }

    private int add(String key, Write w) {
        Integer have = added.get(key);
        if (have != null) {
            return have;
        }
        try {
            w.to();
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a ByteArrayOutputStream does not fail
        }
        added.put(key, count);
        return count++;
    }

    /**
     * The class with {@code code} inserted before the return of method {@code name desc}, and max_stack raised to at
     * least {@code stack}; null if the method is missing or not straight-line code ending in a single return.
     */
    byte[] insertBeforeReturn(String name, String desc, byte[] code, int stack) {
        ByteBuffer b = ByteBuffer.wrap(original);
        b.position(afterPool + 6);
        int interfaces = b.getShort() & 0xFFFF;
        b.position(b.position() + 2 * interfaces);
        skipMembers(b);
        int methodsAt = b.position();
        int methods = b.getShort() & 0xFFFF;
        for (int m = 0; m < methods; m++) {
            b.position(b.position() + 2);
            String mName = utf8.get(b.getShort() & 0xFFFF);
            String mDesc = utf8.get(b.getShort() & 0xFFFF);
            int attrs = b.getShort() & 0xFFFF;
            for (int a = 0; a < attrs; a++) {
                int attrAt = b.position();
                String aName = utf8.get(b.getShort() & 0xFFFF);
                int len = b.getInt();
                if (name.equals(mName) && desc.equals(mDesc) && "Code".equals(aName)) {
                    return patchCode(attrAt, len, code, stack);
                }
                b.position(b.position() + len);
            }
        }
        return null;
    }

    private byte[] patchCode(int attrAt, int len, byte[] insert, int stack) {
        ByteBuffer b = ByteBuffer.wrap(original);
        b.position(attrAt + 6);
        int maxStack = b.getShort() & 0xFFFF;
        int maxLocals = b.getShort() & 0xFFFF;
        int codeLength = b.getInt();
        int codeAt = b.position();
        b.position(codeAt + codeLength);
        int handlers = b.getShort() & 0xFFFF;
        int subAttrs = b.getShort() & 0xFFFF;
        for (int a = 0; a < subAttrs; a++) {
            String aName = utf8.get(b.getShort() & 0xFFFF);
            if ("StackMapTable".equals(aName)) {
                return null; // branches: refused (see the class comment)
            }
            int skip = b.getInt();
                b.position(b.position() + skip);
        }
        if (handlers != 0 || (original[codeAt + codeLength - 1] & 0xFF) != 0xB1) {
            return null; // exception handlers, or not ending in `return`
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(original.length + pool.size() + insert.length);
        DataOutputStream d = new DataOutputStream(out);
        try {
            d.write(original, 0, 8);
            d.writeShort(count);
            d.write(pool.toByteArray());
            d.write(original, afterPool, attrAt + 2 - afterPool); // up to the Code attribute's length
            d.writeInt(len + insert.length);
            d.writeShort(Math.max(maxStack, stack));
            d.writeShort(maxLocals);
            d.writeInt(codeLength + insert.length);
            d.write(original, codeAt, codeLength - 1);
            d.write(insert);
            d.writeByte(0xB1);
            int at = codeAt + codeLength;
            d.write(original, at, 4 + 8 * handlers); // exception table (empty) and the attribute count
            at += 4 + 8 * handlers;
            for (int a = 0; a < subAttrs; a++) {
                String aName = utf8.get(((original[at] & 0xFF) << 8) | (original[at + 1] & 0xFF));
                int aLen = ByteBuffer.wrap(original, at + 2, 4).getInt();
                byte[] body = java.util.Arrays.copyOfRange(original, at + 6, at + 6 + aLen);
                if ("LocalVariableTable".equals(aName) || "LocalVariableTypeTable".equals(aName)) {
                    // a range that ended at the old end must end at the new one: the JVM refuses a range ending
                    // inside an instruction (JDK 25 checks it)
                    ByteBuffer t = ByteBuffer.wrap(body);
                    int n = t.getShort() & 0xFFFF;
                    for (int e = 0; e < n; e++) {
                        int entry = 2 + 10 * e;
                        int start = t.getShort(entry) & 0xFFFF;
                        int length = t.getShort(entry + 2) & 0xFFFF;
                        if (start + length == codeLength) {
                            t.putShort(entry + 2, (short) (length + insert.length));
                        }
                    }
                }
                d.write(original, at, 6);
                d.write(body);
                at += 6 + aLen;
            }
            d.write(original, at, original.length - at);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    private static void skipMembers(ByteBuffer b) {
        int n = b.getShort() & 0xFFFF;
        for (int i = 0; i < n; i++) {
            b.position(b.position() + 6);
            int attrs = b.getShort() & 0xFFFF;
            for (int a = 0; a < attrs; a++) {
                b.position(b.position() + 2);
                int skip = b.getInt();
                b.position(b.position() + skip);
            }
        }
    }

    /**
     * A class of its own: {@code public final class <name>} with {@code public static volatile java.util.Map <field>}
     * set in its static initialiser to {@code Collections.synchronizedMap(new WeakHashMap())}.
     */
    static byte[] registryClass(String internalName, String field) {
        ClassBytes c = new ClassBytes(new byte[] {(byte) 0xCA, (byte) 0xFE, (byte) 0xBA, (byte) 0xBE, 0, 0, 0, 52, 0, 1});
        int self = c.classRef(internalName);
        int object = c.classRef("java/lang/Object");
        int fName = c.utf8(field);
        int fDesc = c.utf8("Ljava/util/Map;");
        int clinit = c.utf8("<clinit>");
        int voidDesc = c.utf8("()V");
        int codeName = c.utf8("Code");
        int weak = c.classRef("java/util/WeakHashMap");
        int weakInit = c.methodRef("java/util/WeakHashMap", "<init>", "()V");
        int sync = c.methodRef("java/util/Collections", "synchronizedMap", "(Ljava/util/Map;)Ljava/util/Map;");
        int put = c.fieldRef(internalName, field, "Ljava/util/Map;");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        DataOutputStream d = new DataOutputStream(out);
        try {
            d.writeInt(0xCAFEBABE);
            d.writeShort(0);
            d.writeShort(52); // Java 8 class file: no stack map frames needed for straight-line code anyway
            d.writeShort(c.count);
            d.write(c.pool.toByteArray());
            d.writeShort(0x0001 | 0x0010 | 0x0020); // public final super
            d.writeShort(self);
            d.writeShort(object);
            d.writeShort(0); // interfaces
            d.writeShort(1); // fields
            d.writeShort(0x0001 | 0x0008 | 0x0040); // public static volatile: replaced once tracking ends
            d.writeShort(fName);
            d.writeShort(fDesc);
            d.writeShort(0);
            d.writeShort(1); // methods
            d.writeShort(0x0008);
            d.writeShort(clinit);
            d.writeShort(voidDesc);
            d.writeShort(1);
            byte[] code = {(byte) 0xBB, hi(weak), lo(weak), 0x59, (byte) 0xB7, hi(weakInit), lo(weakInit),
                    (byte) 0xB8, hi(sync), lo(sync), (byte) 0xB3, hi(put), lo(put), (byte) 0xB1};
            d.writeShort(codeName);
            d.writeInt(12 + code.length);
            d.writeShort(2); // max stack
            d.writeShort(0); // max locals
            d.writeInt(code.length);
            d.write(code);
            d.writeShort(0); // exception table
            d.writeShort(0); // attributes
            d.writeShort(0); // class attributes
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    static byte hi(int index) {
        return (byte) (index >> 8);
    }

    static byte lo(int index) {
        return (byte) index;
    }
}
