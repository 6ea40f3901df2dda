#!/usr/bin/env python3
"""Writes the finalize bench's worst-case image: a PNG of random pixels, which barely compresses,
so the file is as large as its pixels (README, "Renditions", finalize).

    bench/finalize/noise-png.py WIDTH HEIGHT CHANNELS DEST   # CHANNELS 3 (RGB) or 4 (RGBA)

7071 x 7071 is the largest square under MAX_IMAGE_PIXELS (50,000,000); with 4 channels the file
is 191 MiB, under MAX_IMAGE_FILE_BYTES (256 MiB). Standard library only.
"""
import os
import struct
import sys
import zlib


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def main():
    width, height, channels, dest = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    colour_type = {3: 2, 4: 6}[channels]
    deflate = zlib.compressobj(1)
    with open(dest, "wb") as out:
        out.write(b"\x89PNG\r\n\x1a\n")
        out.write(chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)))
        data = b"".join(
            deflate.compress(b"\x00" + os.urandom(width * channels)) for _ in range(height)
        )
        out.write(chunk(b"IDAT", data + deflate.flush()))
        out.write(chunk(b"IEND", b""))


if __name__ == "__main__":
    main()
