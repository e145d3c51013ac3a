"""fipsforge's Java probe, written as a JVM class file from Python (no javac on the host or in the image).

No well-kept Python library assembles JVM class files, and the probe is one straight-line method, so this
writes the format directly (The Java Virtual Machine Specification, chapter 4,
https://docs.oracle.com/javase/specs/jvms/se21/html/jvms-4.html). Version 49.0 (Java 5) is verified by
type inference (section 4.10.2), so no StackMapTable is needed, and every JVM since Java 5 loads it.

`main(String[] a)` prints, one per line, `Arrays.toString(Security.getProviders())` and then
`<provider> <hex digest of "abc">` for `MessageDigest.getInstance(a[0])`. The code has no branch: an
algorithm no provider offers throws `NoSuchAlgorithmException`, uncaught (exit 1, the message on stderr).
"""

from __future__ import annotations

import struct

CLASS_NAME = "FipsforgeJavaProbe"
VERSION = (49, 0)  # (major, minor)
ACC_PUBLIC, ACC_STATIC, ACC_SUPER = 0x0001, 0x0008, 0x0020
# constant pool tags (JVMS 4.4)
UTF8, CLASS, STRING, FIELDREF, METHODREF, NAME_AND_TYPE = 1, 7, 8, 9, 10, 12
# opcodes (JVMS 6.5)
OPCODES = {
    "iconst_0": 0x03, "iconst_1": 0x04, "bipush": 0x10, "ldc": 0x12, "aload_0": 0x2A, "aload_1": 0x2B,
    "aaload": 0x32, "astore_1": 0x4C, "dup": 0x59, "return": 0xB1, "getstatic": 0xB2, "invokevirtual": 0xB6,
    "invokespecial": 0xB7, "invokestatic": 0xB8, "new": 0xBB,
}  # fmt: skip
OUT = ("java/lang/System", "out", "Ljava/io/PrintStream;")
PRINT = ("java/io/PrintStream", "print", "(Ljava/lang/String;)V")
PRINTLN = ("java/io/PrintStream", "println", "(Ljava/lang/String;)V")
MAIN: list[tuple[str, object]] = [
    ("getstatic", OUT),
    ("invokestatic", ("java/security/Security", "getProviders", "()[Ljava/security/Provider;")),
    ("invokestatic", ("java/util/Arrays", "toString", "([Ljava/lang/Object;)Ljava/lang/String;")),
    ("invokevirtual", PRINTLN),
    ("aload_0", None), ("iconst_0", None), ("aaload", None),
    ("invokestatic", ("java/security/MessageDigest", "getInstance", "(Ljava/lang/String;)Ljava/security/MessageDigest;")),
    ("astore_1", None),
    ("getstatic", OUT), ("aload_1", None),
    ("invokevirtual", ("java/security/MessageDigest", "getProvider", "()Ljava/security/Provider;")),
    ("invokevirtual", ("java/security/Provider", "getName", "()Ljava/lang/String;")),
    ("invokevirtual", PRINT),
    ("getstatic", OUT), ("ldc", " "), ("invokevirtual", PRINT),
    ("getstatic", OUT), ("new", "java/math/BigInteger"), ("dup", None), ("iconst_1", None), ("aload_1", None),
    ("ldc", "abc"), ("invokevirtual", ("java/lang/String", "getBytes", "()[B")),
    ("invokevirtual", ("java/security/MessageDigest", "digest", "([B)[B")),
    ("invokespecial", ("java/math/BigInteger", "<init>", "(I[B)V")),
    ("bipush", 16), ("invokevirtual", ("java/math/BigInteger", "toString", "(I)Ljava/lang/String;")),
    ("invokevirtual", PRINTLN),
    ("return", None),
]  # fmt: skip
"""The probe's `main`; `BigInteger(1, digest).toString(16)` drops leading zero digits (none for "abc" in
MD5, SHA-1 or SHA-256)."""
MAX_STACK, MAX_LOCALS = 6, 2  # deepest: out, BigInteger, BigInteger, 1, digest, "abc"; locals: a, digest


class ConstantPool:
    """Entries deduplicated, numbered from 1 (JVMS 4.4); only the kinds the probe uses."""

    def __init__(self) -> None:
        self.entries: dict[bytes, int] = {}

    def _add(self, entry: bytes) -> int:
        return self.entries.setdefault(entry, len(self.entries) + 1)

    def utf8(self, text: str) -> int:
        data = text.encode()  # the probe's names are ASCII, where modified UTF-8 is plain UTF-8
        return self._add(struct.pack(">BH", UTF8, len(data)) + data)

    def class_(self, name: str) -> int:
        return self._add(struct.pack(">BH", CLASS, self.utf8(name)))

    def string(self, text: str) -> int:
        return self._add(struct.pack(">BH", STRING, self.utf8(text)))

    def member(self, tag: int, owner: str, name: str, descriptor: str) -> int:
        name_and_type = self._add(struct.pack(">BHH", NAME_AND_TYPE, self.utf8(name), self.utf8(descriptor)))
        return self._add(struct.pack(">BHH", tag, self.class_(owner), name_and_type))

    def encode(self) -> bytes:
        return struct.pack(">H", len(self.entries) + 1) + b"".join(self.entries)


def _code(pool: ConstantPool, instructions: list[tuple[str, object]]) -> bytes:
    code = bytearray()
    for op, operand in instructions:
        code.append(OPCODES[op])
        if op == "getstatic" and isinstance(operand, tuple):
            code += struct.pack(">H", pool.member(FIELDREF, *operand))
        elif op.startswith("invoke") and isinstance(operand, tuple):
            code += struct.pack(">H", pool.member(METHODREF, *operand))
        elif op == "new" and isinstance(operand, str):
            code += struct.pack(">H", pool.class_(operand))
        elif op == "ldc" and isinstance(operand, str):
            index = pool.string(operand)
            if index > 0xFF:
                raise ValueError("ldc needs a constant pool index below 256")
            code.append(index)
        elif op == "bipush" and isinstance(operand, int):
            code.append(operand)
        elif operand is not None:
            raise ValueError(f"{op}: unexpected operand {operand!r}")
    return bytes(code)


def probe_class() -> bytes:
    """The class file of `FipsforgeJavaProbe` (public, extends Object, one method: main)."""
    pool = ConstantPool()
    this, super_ = pool.class_(CLASS_NAME), pool.class_("java/lang/Object")
    code = _code(pool, MAIN)
    code_attribute = struct.pack(">HHI", MAX_STACK, MAX_LOCALS, len(code)) + code + struct.pack(">HH", 0, 0)
    main = (
        struct.pack(
            ">HHHH", ACC_PUBLIC | ACC_STATIC, pool.utf8("main"), pool.utf8("([Ljava/lang/String;)V"), 1
        )
        + struct.pack(">HI", pool.utf8("Code"), len(code_attribute))
        + code_attribute
    )
    header = struct.pack(">IHH", 0xCAFEBABE, VERSION[1], VERSION[0])
    body = struct.pack(">HHHHH", ACC_PUBLIC | ACC_SUPER, this, super_, 0, 0) + struct.pack(">H", 1) + main
    return header + pool.encode() + body + struct.pack(">H", 0)
