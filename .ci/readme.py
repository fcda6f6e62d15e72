#!/usr/bin/env python
"""README.md from nbs/index.ipynb (quarto, which nbdev_readme needs, cannot be installed here).

Markdown cells are copied, code cells become ```python blocks (cells with `#| hide` are left
out, directive lines are dropped), text outputs become plain blocks and image outputs are
written to nbs/images/index_<cell>.png and linked. `--check` exits 1 if README.md is stale."""
import sys, json, base64, re
from pathlib import Path

root = Path(__file__).resolve().parent.parent
nb = json.loads((root/'nbs'/'index.ipynb').read_text())
out, images = [], {}
for i, c in enumerate(nb['cells']):
    src = ''.join(c['source'])
    if c['cell_type'] == 'markdown':
        out.append(src.strip()); continue
    if re.search(r'^#\|\s*(hide|default_exp)', src, re.M): continue
    code = '\n'.join(l for l in src.splitlines() if not l.startswith('#|')).strip()
    if code: out.append(f'```python\n{code}\n```')
    for o in c.get('outputs', []):
        data = o.get('data', {})
        if 'image/png' in data:
            name = f'images/index_{i}.png'
            images[root/'nbs'/name] = base64.b64decode(data['image/png'])
            out.append(f'![](nbs/{name})')
        elif o.get('output_type') == 'stream' or 'text/plain' in data:
            text = ''.join(o.get('text', data.get('text/plain', ''))).rstrip()
            if text: out.append(f'```\n{text}\n```')
text = '\n\n'.join(out) + '\n'
text = '<!-- generated from nbs/index.ipynb by .ci/readme.py: edit the notebook, not this file -->\n\n' + text
readme = root/'README.md'
if '--check' in sys.argv:
    stale = readme.read_text() != text or any(not p.exists() or p.read_bytes() != b for p, b in images.items())
    if stale: print('README.md is out of date with nbs/index.ipynb: run python .ci/readme.py'); sys.exit(1)
    print('README.md is in sync with nbs/index.ipynb'); sys.exit(0)
for p, b in images.items(): p.write_bytes(b)
readme.write_text(text)
print(f'wrote {readme} ({len(text)} chars, {len(images)} images)')
