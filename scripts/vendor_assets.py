"""Copy the front-end assets the pages use from node_modules into rahdari/static/vendor.

The platform serves its own scripts and fonts (no CDN): this runs on every
`make install` and only copies files that changed.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE = ROOT / "node_modules"
DEST = ROOT / "rahdari" / "static" / "vendor"

FILES = {
    "htmx.org/dist/htmx.min.js": "htmx/htmx.min.js",
    "@fontsource/noto-nastaliq-urdu/files/noto-nastaliq-urdu-arabic-400-normal.woff2": "fonts/noto-nastaliq-urdu-400.woff2",
    "@fontsource/noto-nastaliq-urdu/files/noto-nastaliq-urdu-arabic-700-normal.woff2": "fonts/noto-nastaliq-urdu-700.woff2",
    "@fontsource/noto-naskh-arabic/files/noto-naskh-arabic-arabic-400-normal.woff2": "fonts/noto-naskh-arabic-400.woff2",
    "@fontsource/noto-naskh-arabic/files/noto-naskh-arabic-arabic-700-normal.woff2": "fonts/noto-naskh-arabic-700.woff2",
    "@fontsource/noto-sans/files/noto-sans-latin-400-normal.woff2": "fonts/noto-sans-400.woff2",
    "@fontsource/noto-sans/files/noto-sans-latin-700-normal.woff2": "fonts/noto-sans-700.woff2",
    "axe-core/axe.min.js": "axe/axe.min.js",
    "jsqr/dist/jsQR.js": "jsqr/jsQR.js",
}


def main() -> int:
    missing = [src for src in FILES if not (NODE / src).is_file()]
    if missing:
        print("Front-end packages are missing; run `npm ci` first:", *missing, sep="\n  ")
        return 1
    for src, dst in FILES.items():
        source, target = NODE / src, DEST / dst
        if target.is_file() and target.stat().st_size == source.stat().st_size:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
