"""Is a screenshot of the demo window not blank? Standard library only (runs with any python3).

    python3 packaging/check_screenshot.py SHOT.png     exit 0 and one line of figures, or exit 1

Decodes the PNG itself (8-bit RGB/RGBA, as Qt writes it) and asks for what the demo window shows
when it rendered: many distinct colours (the speckled ultrasound slices), no single colour covering
most of the window, and the label colours of the demo's muscles (red, blue, green overlays).
"""

import struct
import sys
import zlib
from collections import Counter


def read_png(path):
    """(width, height, channels, rows) with rows as bytes of unfiltered pixels."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    pos, idat, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    width, height, depth, colour, _, _, interlace = header
    channels = {2: 3, 6: 4}.get(colour)
    if depth != 8 or channels is None or interlace:
        raise ValueError(f"unsupported PNG layout (depth {depth}, colour type {colour}, interlace {interlace})")
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    rows, prev = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        if kind == 1:
            for i in range(channels, stride):
                line[i] = (line[i] + line[i - channels]) & 255
        elif kind == 2:
            for i in range(stride):
                line[i] = (line[i] + prev[i]) & 255
        elif kind == 3:
            for i in range(stride):
                left = line[i - channels] if i >= channels else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif kind == 4:
            for i in range(stride):
                a = line[i - channels] if i >= channels else 0
                b, c = prev[i], prev[i - channels] if i >= channels else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, channels, rows


def main(path) -> int:
    width, height, channels, rows = read_png(path)
    colours = Counter()
    for row in rows[::2]:                      # every other row and column: plenty, and 4x faster
        for x in range(0, width * channels, 2 * channels):
            colours[row[x:x + 3]] += 1
    total = sum(colours.values())
    top_share = colours.most_common(1)[0][1] / total
    # strongly red, blue and green pixels: the demo's GM, GL and SOL overlays and surfaces
    hues = {"red": 0, "green": 0, "blue": 0}
    for (r, g, b), n in ((tuple(c), n) for c, n in colours.items()):
        if r > 120 and r > g + 50 and r > b + 50:
            hues["red"] += n
        elif g > 120 and g > r + 50 and g > b + 30:
            hues["green"] += n
        elif b > 120 and b > r + 50 and b > g + 20:
            hues["blue"] += n
    problems = []
    if width < 400 or height < 300:
        problems.append(f"too small ({width}x{height})")
    if len(colours) < 800:
        problems.append(f"only {len(colours)} distinct colours (the slices did not render?)")
    if top_share > 0.6:
        problems.append(f"one colour covers {top_share:.0%} of the window")
    for name, n in hues.items():
        if n < total * 0.0005:
            problems.append(f"no {name} label pixels")
    figures = (f"{width}x{height}, {len(colours)} colours, top colour {top_share:.0%}, "
               + ", ".join(f"{k} {v / total:.2%}" for k, v in hues.items()))
    if problems:
        print(f"screenshot {path}: BLANK OR INCOMPLETE: {'; '.join(problems)} ({figures})")
        return 1
    print(f"screenshot {path}: ok ({figures})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
