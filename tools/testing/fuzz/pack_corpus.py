#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Pack syzkaller programs (text files) into a corpus database.

Usage: pack_corpus.py OUT.db PROGRAM...

The format is that of syzkaller's pkg/db, which syz-stress -corpus reads:
a header (magic 0xbaddb, format version 2, user version 0), then one
record per program: magic 0xfee1bad, the key (the SHA-1 of the program
text, in hex), a sequence number, and the program raw-deflated, with its
compressed length. All integers little-endian.
"""
import hashlib
import struct
import sys
import zlib


def record(text, seq):
    key = hashlib.sha1(text).hexdigest().encode()
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    val = comp.compress(text) + comp.flush()
    return (struct.pack('<II', 0xfee1bad, len(key)) + key +
            struct.pack('<QI', seq, len(val)) + val)


def main():
    out = [struct.pack('<IIQ', 0xbaddb, 2, 0)]
    for seq, path in enumerate(sys.argv[2:]):
        with open(path, 'rb') as f:
            # Comments are for people; the corpus holds the calls.
            text = b''.join(line for line in f if not line.startswith(b'#'))
        out.append(record(text, seq))
    with open(sys.argv[1], 'wb') as f:
        f.write(b''.join(out))


if __name__ == '__main__':
    main()
