#!/usr/bin/env python
"""Checks of the book's shape, run by CI. Exits 1 listing every violation.

Rules (issue 14): exported cells of at most 60 lines; nothing cites or reads a file outside the repository; Part I
modules import no Part II module; evaluation does not import the engine.

Figures (issue 19), printed beside the issue's targets; CI fails when a figure is over its target, and also when it
gets worse than the ratchet in `.ci/book_baseline.json` (`python .ci/book_check.py --update-baseline` stores the
current figures once they are better). Every module exports at most 30 names; every public function and class of
the package has a docstring naming its source (paper section, public-code file, or `Engineering:` and why) and every
exception class it raises itself; no Part II module sets an attribute of, or patches a class of, a Part I module:
- Part I = the notebooks nbs/NN_*.ipynb with NN <= 07 (chapters 00-07). A *code line* is a non-blank line of a code cell that is
  not a comment (directives `#| ...` are comments). Per chapter and in total: code lines, median and largest code
  cell (in code lines, over every code cell), number of code cells over 30 lines.
- *First cell that shows bundled real data* (per Part I chapter; index among all cells of the notebook, from 0): the
  first code cell that has an output (text, image or value; not an error) and whose source names the bundled data:
  `sample_path(`, `mmearth_sample_64` / `mmearth_sample_128`, `data/geobench`, a GEO-Bench sample task name
  ('...-sample', e.g. 'm-bigearthnet-sample'), or a *loader* of them: a top-level function of a Part I module whose
  own source names one of these (found by reading the modules, e.g. `pretrain_sample`). The issue's target: < 10.
- Part II = nbs/NN_*.ipynb with NN >= 08 (09_cli opens it). Each must name the Part I piece it refines: a markdown cell holding a
  form of 'refine' and a Part I chapter ('chapter 03', 'chapters 01 and 11') or a backticked name exported by a Part
  I module (the paragraphs saying 'refine' first, then the whole cell). The piece(s) named are printed; a Part II
  chapter naming none fails unless the baseline lists it (`part2_without_refines`), so that the list only shrinks.
"""
import ast, json, re, statistics, sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
PART1 = ['modalities', 'dataset', 'masking', 'encoder', 'decoders', 'loss', 'pretrain', 'probe']
PART2 = ['cli', 'training', 'fastdata', 'convert', 'engine', 'launch', 'evaluation', 'checkpoints', 'sample', 'benchmarks',
         'export', 'faults', 'fidelity', 'reproduce', 'geobench_data', 'check', 'architecture', 'fastencoder', 'results',
         'paper_tables', 'released']
OUTSIDE = re.compile(r'\.\./shared|shared/realdata|shared/reference|MMEARTH_FACTS|ENVIRONMENT_NOTES|REFERENCE_CHECKPOINTS'
                     r'|INTERFACES\.md|PROVENANCE\.md|\.\./runs\b|/work/')
TARGETS = {'code_lines': 2000, 'median_cell': 5, 'largest_cell': 30, 'cells_over_30': 0, 'first_real_data_cell': 9}
BASELINE = root/'.ci'/'book_baseline.json'
REAL = r"sample_path\(|mmearth_sample_(?:64|128)|data/geobench|['\"][\w-]+-sample['\"]"
bad = []

def cells_of(nb): return json.loads(nb.read_text())['cells']
def src(c): return ''.join(c['source'])
def code_lines(c): return sum(1 for l in src(c).splitlines() if l.strip() and not l.strip().startswith('#'))
def has_output(c):
    for o in c.get('outputs', []):
        if o.get('output_type') == 'stream' and ''.join(o.get('text', '')).strip(): return True
        if o.get('output_type') in ('display_data', 'execute_result') and o.get('data'): return True
    return False
def chapter(nb): m = re.match(r'(\d\d)_', nb.name); return int(m.group(1)) if m else None

# --- issue 14: cell length, outside references, imports
for nb in sorted((root/'nbs').glob('*.ipynb')):
    for i, c in enumerate(cells_of(nb)):
        s = src(c)
        if c['cell_type'] == 'code' and re.match(r'\s*#\|\s*export', s) and len(s.splitlines()) > 60:
            bad.append(f'{nb.name} cell {i}: exported cell of {len(s.splitlines())} lines (at most 60)')
        for m in OUTSIDE.finditer(s): bad.append(f'{nb.name} cell {i}: refers to {m.group(0)!r}, outside the repository')
for f in [root/'README.md', *sorted((root/'data').rglob('*.md')), *sorted((root/'mmearth_nb').glob('*.py'))]:
    for m in OUTSIDE.finditer(f.read_text()): bad.append(f'{f.relative_to(root)}: refers to {m.group(0)!r}, outside the repository')
def imports(mod):
    p = root/'mmearth_nb'/f'{mod}.py'
    return set(re.findall(r'^\s*(?:from|import)\s+(?:mmearth_nb)?\.?(\w+)', p.read_text(), re.M)) & set(PART1 + PART2) if p.exists() else set()
for m in PART1:
    if imports(m) & set(PART2): bad.append(f'mmearth_nb/{m}.py (Part I) imports Part II module(s) {sorted(imports(m) & set(PART2))}')
if 'engine' in imports('evaluation'): bad.append('mmearth_nb/evaluation.py imports the pretraining engine')
print('\n'.join(bad) if bad else 'book checks: exported cells <= 60 lines, no outside references, Part I imports no Part II module')

# --- issue 19: Part I figures
part1_nbs = [nb for nb in sorted((root/'nbs').glob('*.ipynb')) if chapter(nb) is not None and chapter(nb) <= 7]
part2_nbs = [nb for nb in sorted((root/'nbs').glob('*.ipynb')) if chapter(nb) is not None and chapter(nb) >= 8]
part1_names = {}                      # exported name -> Part I module
loaders = set()
for m in PART1:
    p = root/'mmearth_nb'/f'{m}.py'
    if not p.exists(): continue
    text = p.read_text(); tree = ast.parse(text)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, 'id', None) == '__all__' for t in node.targets):
            part1_names.update({n: m for n in ast.literal_eval(node.value)})
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and re.search(REAL, ast.get_source_segment(text, node) or ''):
            loaders.add(node.name)
real_re = re.compile(REAL + ''.join(rf'|\b{re.escape(n)}\(' for n in sorted(loaders)))

def first_real_cell(cells):
    return next((i for i, c in enumerate(cells) if c['cell_type'] == 'code' and has_output(c) and real_re.search(src(c))), None)

base = json.loads(BASELINE.read_text()) if BASELINE.exists() else {}
bp1 = base.get('part1', {})
rows, sizes_all, first = [], [], {}
for nb in part1_nbs:
    cells = cells_of(nb); sizes = [code_lines(c) for c in cells if c['cell_type'] == 'code']
    sizes_all += sizes; first[nb.stem] = first_real_cell(cells)
    rows.append((nb.stem, sum(sizes), statistics.median(sizes) if sizes else 0, max(sizes, default=0),
                 sum(s > 30 for s in sizes), first[nb.stem], len(cells)))
now = {'code_lines': sum(sizes_all), 'median_cell': statistics.median(sizes_all) if sizes_all else 0,
       'largest_cell': max(sizes_all, default=0), 'cells_over_30': sum(s > 30 for s in sizes_all),
       'first_real_data_cell': first}

print(f"\nPart I (chapters 00-07), {len(sizes_all)} code cells; a code line is non-blank and not a comment")
print(f"  {'chapter':16s} {'lines':>6s} {'median':>6s} {'largest':>7s} {'>30':>4s}  first cell with bundled real data (of all cells)")
fmt = lambda v: 'none' if v is None else f'{v:g}'
for name, n, med, big, over, fr, ncells in rows:
    print(f"  {name:16s} {n:6d} {med:6g} {big:7d} {over:4d}  {fmt(fr):>4s} of {ncells}"
          + (f" (baseline {fmt(bp1['first_real_data_cell'][name])})" if name in bp1.get('first_real_data_cell', {}) else ' (new chapter)'))
print(f"\n  {'figure':28s} {'now':>6s} {'baseline':>8s}  target (issue 19)")
for k, label, tgt in [('code_lines', 'code lines', f"<= {TARGETS['code_lines']}"),
                      ('median_cell', 'median code cell', f"<= {TARGETS['median_cell']}"),
                      ('largest_cell', 'largest code cell', f"<= {TARGETS['largest_cell']}"),
                      ('cells_over_30', 'code cells over 30 lines', '0')]:
    b = bp1.get(k)
    print(f"  {label:28s} {now[k]:6g} {fmt(b):>8s}  {tgt}" + ('  met' if now[k] <= TARGETS[k] else ''))
    if now[k] > TARGETS[k]: bad.append(f"Part I {label}: {now[k]:g}, over the issue-19 limit {TARGETS[k]:g}")
    elif b is not None and now[k] > b: bad.append(f"Part I {label}: {now[k]:g}, worse than the baseline {b:g} (.ci/book_baseline.json)")
bf = bp1.get('first_real_data_cell', {})
late = [n for n, v in first.items() if v is None or v > TARGETS['first_real_data_cell']]
bad += [f"{n}: first cell with bundled real data {fmt(first[n])}, over the issue-19 limit {TARGETS['first_real_data_cell']}" for n in late]
print(f"  {'chapters with real data late':28s} {len(late):6d} {'':>8s}  0 (each chapter within its first 10 cells)")
for n, v in first.items():
    if n not in bf:      # a new Part I chapter meets the target from the start
        if v is None or v > TARGETS['first_real_data_cell']:
            bad.append(f"{n}: first cell with bundled real data {fmt(v)}; a new Part I chapter shows it within its first 10 cells")
    elif v is None and bf[n] is not None or v is not None and bf[n] is not None and v > bf[n]:
        bad.append(f"{n}: first cell with bundled real data {fmt(v)}, later than the baseline {bf[n]} (.ci/book_baseline.json)")

# --- issue 19: what each Part II chapter refines
print("\nPart II: the Part I piece each chapter names as refined (a markdown cell with 'refine' naming a Part I chapter or name)")
missing = []
for nb in part2_nbs:
    found = None
    for c in cells_of(nb):
        if c['cell_type'] != 'markdown' or not re.search(r'refin', src(c), re.I): continue
        paras = [p for p in re.split(r'\n\s*\n', src(c)) if re.search(r'refin', p, re.I)] + [src(c)]
        for para in paras:    # the paragraphs that say 'refine' first, then the whole cell
            chs = sorted({int(x) for grp in re.findall(r'[Cc]hapters?\s+(\d\d(?:(?:,\s*|,?\s+and\s+)\d\d)*)', para)
                          for x in re.findall(r"\d\d", grp) if int(x) <= 7})
            names = list(dict.fromkeys(n for n in re.findall(r'`(\w+)', para) if n in part1_names))
            if chs or names: found = (chs, names); break
        if found: break
    if found:
        chs, names = found
        print(f"  {nb.stem:16s} refines " + ', '.join([f'chapter {x:02d}' for x in chs] + [f'`{n}` ({part1_names[n]})' for n in names[:4]]))
    else:
        missing.append(nb.stem); print(f"  {nb.stem:16s} names no Part I piece it refines")
allowed = set(base.get('part2_without_refines', []))
for n in missing:
    if n not in allowed: bad.append(f"{n}: names no Part I piece it refines (a markdown cell with 'refine' and a Part I chapter or name)")

# --- issue 19 items 2, 5, 6: module size, Part II hooks into Part I, public docstrings
SOURCE = re.compile(r'§\s*\d|[Ss]ection\s+\d|\bEq(?:uation)?s?\.?\s*\(?\d|Table\s+A?\d|Fig(?:ure|\.)\s*\d|MMEarth-train|MMEarth-data'
                    r'|ConvNeXt-V2|GEO-Bench|geobench|spconv|[\w/-]+\.py\b|PyTorch|torch\.\w|scikit-learn|HDF5|\bpaper\b'
                    r'|[Ee]ngineering[,:]')
MAX_NAMES = 30
doc_bad, sizes = [], {}
for p in sorted((root/'mmearth_nb').glob('*.py')):
    m = p.stem
    if m.startswith('_'): continue
    text = p.read_text(); tree = ast.parse(text)
    allnames = next((ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign)
                     and any(getattr(t, 'id', None) == '__all__' for t in n.targets)), [])
    sizes[m] = len(allnames)
    if m in PART2:                         # a Part II module setting an attribute of, or patching, a Part I module
        mods = {}                          # local name -> Part I module, from `from . import encoder`-style imports
        for n in ast.walk(tree):
            if isinstance(n, ast.ImportFrom) and (n.module or '').split('.')[-1] in ('', 'mmearth_nb'):
                mods.update({(a.asname or a.name): a.name for a in n.names if a.name in PART1})
            if isinstance(n, ast.Import):
                mods.update({(a.asname or a.name): a.name.split('.')[-1] for a in n.names if a.name.split('.')[-1] in PART1 and a.asname})
        for n in ast.walk(tree):
            tgts = n.targets if isinstance(n, ast.Assign) else [n.target] if isinstance(n, (ast.AugAssign, ast.AnnAssign)) else []
            if isinstance(n, ast.Call) and getattr(n.func, 'id', None) == 'setattr' and n.args: tgts = [ast.Attribute(value=n.args[0], attr='?')]
            for t in tgts:
                if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id in mods:
                    bad.append(f'mmearth_nb/{m}.py sets `{t.value.id}.{t.attr}`, a hook inside Part I module {mods[t.value.id]}')
        for hit in re.finditer(r'@patch\w*\s*\n\s*def\s+\w+\(\s*self\s*:\s*(\w+)', text):
            if hit.group(1) in part1_names:
                bad.append(f'mmearth_nb/{m}.py patches `{hit.group(1)}`, a Part I class ({part1_names[hit.group(1)]})')
    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.ClassDef)) or node.name not in allnames: continue
        doc = ast.get_docstring(node) or ''
        if isinstance(node, ast.ClassDef):
            init = next((f for f in node.body if isinstance(f, ast.FunctionDef) and f.name == '__init__'), None)
            doc += '\n' + (ast.get_docstring(init) or '' if init else '')
        why = []
        if not doc.strip(): why.append('no docstring')
        elif not SOURCE.search(doc): why.append('names no source (paper section, public-code file, or "Engineering:")')
        raised = {n.exc.func.id if isinstance(n.exc, ast.Call) and isinstance(n.exc.func, ast.Name) else
                  n.exc.id if isinstance(n.exc, ast.Name) else None
                  for n in ast.walk(node) if isinstance(n, ast.Raise) and n.exc is not None} - {None}
        raised = {r for r in raised if r[0].isupper()}
        if doc.strip() and (missing_r := sorted(r for r in raised if r not in doc)):
            why.append(f'raises {", ".join(missing_r)} without saying so')
        if why: doc_bad.append(f'{m}.{node.name}: ' + '; '.join(why))
print(f"\nModules: exported names (issue 19: at most {MAX_NAMES} each)")
print('  ' + ', '.join(f'{m} {n}' + ('' if n <= MAX_NAMES else ' (over)') for m, n in sizes.items()))
print(f"Public functions and classes whose docstring lacks a source or an error they raise: {len(doc_bad)}")
for l in doc_bad: print('  ' + l)
now_mod = {'modules_over_30': sorted(m for m, n in sizes.items() if n > MAX_NAMES), 'docstring_gaps': len(doc_bad)}
if now_mod['modules_over_30']:
    bad.append(f"modules over {MAX_NAMES} exported names: {now_mod['modules_over_30']}")
if doc_bad: bad.append(f"{len(doc_bad)} public docstring(s) lack a source or a raised error (listed above)")

if '--update-baseline' in sys.argv:
    BASELINE.write_text(json.dumps({'part1': now, 'part2_without_refines': missing, **now_mod}, indent=1) + '\n')
    print(f"\nwrote {BASELINE.relative_to(root)}")
elif base and not bad and (any(now[k] < bp1.get(k, now[k]) for k in ('code_lines', 'median_cell', 'largest_cell', 'cells_over_30'))
                           or any(v is not None and (bf.get(n) is None or v < bf[n]) for n, v in first.items() if n in bf)
                           or set(missing) < allowed):
    print("\nbetter than the baseline: `python .ci/book_check.py --update-baseline` tightens the ratchet")
if bad: print('\nFAILED:\n' + '\n'.join(bad))
sys.exit(1 if bad else 0)
