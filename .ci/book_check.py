#!/usr/bin/env python
"""Checks of the book's shape (issue 14), run by CI: exported cells of at most 60 lines; nothing cites or reads a
file outside the repository; Part I modules import no Part II module; evaluation does not import the engine.
Exits 1 listing every violation."""
import json, re, sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
PART1 = ['modalities', 'dataset', 'masking', 'encoder', 'decoders', 'loss', 'pretrain', 'probe']
PART2 = ['fastencoder', 'training', 'fastdata', 'convert', 'engine', 'evaluation', 'checkpoints', 'sample', 'benchmarks', 'export',
         'faults', 'fidelity', 'reproduce', 'geobench_data']
OUTSIDE = re.compile(r'\.\./shared|shared/realdata|shared/reference|MMEARTH_FACTS|ENVIRONMENT_NOTES|REFERENCE_CHECKPOINTS'
                     r'|INTERFACES\.md|PROVENANCE\.md|\.\./runs\b|/work/')
bad = []
for nb in sorted((root/'nbs').glob('*.ipynb')):
    for i, c in enumerate(json.loads(nb.read_text())['cells']):
        src = ''.join(c['source'])
        if c['cell_type'] == 'code' and re.match(r'\s*#\|\s*export', src) and len(src.splitlines()) > 60:
            bad.append(f'{nb.name} cell {i}: exported cell of {len(src.splitlines())} lines (at most 60)')
        for m in OUTSIDE.finditer(src): bad.append(f'{nb.name} cell {i}: refers to {m.group(0)!r}, outside the repository')
for f in [root/'README.md', *sorted((root/'data').rglob('*.md')), *sorted((root/'mmearth_nb').glob('*.py'))]:
    for m in OUTSIDE.finditer(f.read_text()): bad.append(f'{f.relative_to(root)}: refers to {m.group(0)!r}, outside the repository')
def imports(mod):
    p = root/'mmearth_nb'/f'{mod}.py'
    return set(re.findall(r'^\s*(?:from|import)\s+(?:mmearth_nb)?\.?(\w+)', p.read_text(), re.M)) & set(PART1 + PART2) if p.exists() else set()
for m in PART1:
    if imports(m) & set(PART2): bad.append(f'mmearth_nb/{m}.py (Part I) imports Part II module(s) {sorted(imports(m) & set(PART2))}')
if 'engine' in imports('evaluation'): bad.append('mmearth_nb/evaluation.py imports the pretraining engine')
print('\n'.join(bad) if bad else 'book checks: exported cells <= 60 lines, no outside references, Part I imports no Part II module')
sys.exit(1 if bad else 0)
