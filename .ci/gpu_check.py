"""The GPU check of mmearth_nb (run by .ci/gpu on a CUDA machine; `--device cpu --small` is a smoke test of
this script itself on a CPU machine). Each check prints one line and goes into $OUT/gpu_check.json and
$OUT/gpu_check.md; the exit code is 1 if any check failed.

Checks:
1. equality: the sparse encoder's own path (backend 'torch', no spconv) against the dense masked reference,
   forward features and gradients (input and weights), in fp32 with TF32 off and in bf16 autocast;
2. host syncs of one pretraining micro-step and of one optimizer step (torch.cuda.set_sync_debug_mode);
3. BatchNormalizer on the device equal to the worker path, bit for bit;
4. `mmearth_pretrain` ~20 steps, bf16, normalization on the device, in a one-rank NCCL group (torchrun), then
   `--resume` to 30 steps;
5. a table: tiles/s per GPU at batch 256, peak memory, model FLOP utilization (FLOPs counted by
   torch.utils.flop_counter against the measured bf16 matmul rate), tiles/s one data worker delivers and so
   the CPU cores one GPU needs.
"""
import argparse, json, math, os, platform, subprocess, sys, tempfile, time, traceback, warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import torch

RESULTS, FAILED = {}, []

def check(name):
    "Run the decorated check now, record its result dict (or the exception) under `name`."
    def deco(f):
        t = time.perf_counter()
        try:
            r = f(); r['ok'] = bool(r.get('ok', True))
        except Exception as e:
            r = {'ok': False, 'error': f"{type(e).__name__}: {e}", 'traceback': traceback.format_exc()[-3000:]}
        r['seconds'] = round(time.perf_counter() - t, 1)
        RESULTS[name] = r
        if not r['ok']: FAILED.append(name)
        short = {k: v for k, v in r.items() if k != 'traceback'}
        print(f"[{'PASS' if r['ok'] else 'FAIL'}] {name}: {json.dumps(short, default=str)}", flush=True)
        if 'traceback' in r: print(r['traceback'], flush=True)
        return f
    return deco

def rel_err(a, b):
    a, b = a.float(), b.float()
    return float((a - b).abs().max() / b.abs().max().clamp(min=1e-12))

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--device', default='cuda')
    ap.add_argument('--small', action='store_true', help='tiny sizes (smoke test of this script on CPU)')
    ap.add_argument('--out', default=os.environ.get('OUT') or str(ROOT / 'runs' / 'gpu_check'))
    ap.add_argument('--skip', default='', help='comma-separated checks to skip: equality,syncs,normalizer,pretrain,table')
    a = ap.parse_args()
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    dev = torch.device(a.device); cuda = dev.type == 'cuda'
    if cuda and not torch.cuda.is_available(): sys.exit("gpu_check: --device cuda but torch.cuda.is_available() is False")
    skip = set(filter(None, a.skip.split(',')))
    from mmearth_nb.encoder import convnextv2
    from mmearth_nb.masking import random_patch_mask
    from mmearth_nb.dataset import sample_path; from mmearth_nb.fastdata import FastMMEarthDataset, BatchNormalizer, make_loader
    from mmearth_nb.decoders import mpmae
    from mmearth_nb.loss import MultiTaskLoss
    B = 4 if a.small else 32
    sample = sample_path('128')
    RESULTS['machine'] = {'python': platform.python_version(), 'torch': torch.__version__,
                          'device': torch.cuda.get_device_name(dev) if cuda else platform.processor() or 'cpu',
                          'cpus': os.cpu_count()}
    print('machine:', RESULTS['machine'], flush=True)

    if 'equality' not in skip:
        @check('equality')
        def _():
            res = {}
            for prec in ('fp32', 'bf16'):
                if cuda: torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
                torch.manual_seed(0)
                sp = convnextv2('atto', impl='sparse', patch_size=16).to(dev)
                ma = convnextv2('atto', impl='masked', patch_size=16).to(dev)
                ma.load_state_dict(sp.state_dict())
                x = torch.randn(B, 12, 112, 112, device=dev)
                m = random_patch_mask(B, 7, 0.6, device=dev)
                outs = {}
                for name, enc in (('sparse', sp), ('masked', ma)):
                    xi = x.clone().requires_grad_()
                    with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=prec == 'bf16'):
                        z = enc(xi, m)
                    (z.float() * torch.linspace(-1, 1, z.numel(), device=dev).view_as(z)).sum().backward()
                    outs[name] = (z.detach().float(), xi.grad.float(), enc.stages[0][0].pwconv1.weight.grad.float())
                e = [rel_err(s, r) for s, r in zip(outs['sparse'], outs['masked'])]
                res[prec] = {'features': e[0], 'grad_input': e[1], 'grad_weight': e[2]}
            if cuda: torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
            tol = {'fp32': 1e-4, 'bf16': 5e-2}
            res['ok'] = all(v < tol[p] for p in ('fp32', 'bf16') for v in res[p].values())
            res['tolerance'] = tol
            return res

    if 'syncs' not in skip:
        @check('syncs')
        def _():
            # the real engine (mmearth_nb.engine.Pretrainer): one optimizer step of 2 micro-steps, normalization on the
            # device, fused AdamW on CUDA; counted by count_host_syncs (on CUDA also torch.cuda.set_sync_debug_mode)
            from mmearth_nb.engine import DistInfo, schedule_steps
            from mmearth_nb.launch import make_config, resolve_config, build_data, build_model, build_trainer
            from mmearth_nb.training import make_optimizer, make_scheduler
            from mmearth_nb.training import count_host_syncs
            info = DistInfo(device=dev)
            cfg = resolve_config(make_config('sample', device=dev.type, amp='bf16' if cuda else 'none', normalize='device',
                                             batch_size=B, accum_iter=2, backend='torch'), 1, 128)
            _, loader = build_data(cfg, info)
            model, crit = build_model(cfg, dev, sync_free=True)
            tr = build_trainer(cfg, model, crit, loader, info, Path(tempfile.mkdtemp()) / 'syncs')
            if not cuda:   # the CUDA setting on CPU: the fused AdamW keeps its step counters on the device
                tr.optimizer = make_optimizer(tr.step_module, cfg.lr, cfg.weight_decay, (cfg.beta1, cfg.beta2), cfg.wd_rule, fused=True)
                tr.scheduler = make_scheduler(tr.optimizer, *schedule_steps(tr.steps_per_epoch, cfg.epochs, cfg.warmup_epochs, cfg.lr, cfg.min_lr))
            it = iter(loader); b = [next(it), next(it)]
            tr.micro_step(b[0], 0, False); tr.micro_step(b[1], 1, True); tr.optimizer_step()     # warm-up
            if cuda: torch.cuda.synchronize()
            with count_host_syncs(**({'cuda_debug': True} if cuda else {'as_cuda': True})) as c:
                tr.micro_step(b[0], 2, False); tr.micro_step(b[1], 3, True); tr.optimizer_step()
            if cuda: torch.cuda.synchronize()
            return {'ok': c.n <= 1, 'syncs_per_optimizer_step': c.n, 'ops': list(c.ops)[:8],
                    'cuda_sync_warnings': getattr(c, 'cuda_warnings', None),
                    'fused_adamw': tr.optimizer.param_groups[0].get('fused')}

    if 'normalizer' not in skip:
        @check('normalizer')
        def _():
            dw = FastMMEarthDataset(sample, split=None, tasks='all', random_crop=False)
            dd = FastMMEarthDataset(sample, split=None, tasks='all', random_crop=False, normalize='device')
            bw = next(iter(make_loader(dw, 8, num_workers=0, shuffle=False)))
            bd = BatchNormalizer(dd).to(dev)(next(iter(make_loader(dd, 8, num_workers=0, shuffle=False))))
            def same(u, v):
                u, v = u.cpu(), v.cpu()
                return u.dtype == v.dtype and u.shape == v.shape and bool(((u == v) | (u.isnan() & v.isnan())).all())
            bad = [k for k in ['image'] if not same(bw[k], bd[k])] + [t for t in bw['targets'] if not same(bw['targets'][t], bd['targets'][t])]
            return {'ok': not bad, 'differ': bad, 'tasks': len(bw['targets'])}

    if 'pretrain' not in skip:
        @check('pretrain')
        def _():
            run = Path(tempfile.mkdtemp(prefix='gpu_pretrain_')) / 'run'
            entry = ROOT / '.ci' / 'pretrain_entry.py'
            base = ['--output', str(run), '--batch-size', '8', '--epochs', '100', '--quiet', '--no-tensorboard',
                    '--amp', 'bf16' if cuda else 'none', '--normalize', 'device' if cuda else 'worker',
                    '--device', dev.type, '--save-steps', '5']
            launcher = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '1', str(entry)]
            env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT)] + [p for p in [os.environ.get('PYTHONPATH')] if p]))
            steps = (3, 5) if a.small else (20, 30)
            logs = []
            for i, extra in enumerate((['--max-steps', str(steps[0])], ['--max-steps', str(steps[1]), '--resume'])):
                t = time.perf_counter()
                r = subprocess.run(launcher + base + extra, capture_output=True, text=True, env=env, cwd=ROOT)
                logs.append({'rc': r.returncode, 'seconds': round(time.perf_counter() - t, 1), 'tail': (r.stdout + r.stderr)[-1500:]})
                if r.returncode: return {'ok': False, 'runs': logs}
            ck = torch.load(run / 'checkpoint-last.pth', map_location='cpu', weights_only=False)
            step = ck.get('step', ck.get('global_step'))
            import csv
            rows = list(csv.DictReader(open(run / 'log.csv')))
            losses = [float(r['loss']) for r in rows if r.get('loss') not in (None, '')]
            return {'ok': all(math.isfinite(l) for l in losses) and step in (None, steps[1]), 'final_step': step,
                    'log_rows': len(rows), 'first_loss': losses[0] if losses else None,
                    'last_loss': losses[-1] if losses else None, 'runs': [{k: v for k, v in l.items() if k != 'tail'} for l in logs]}

    if 'table' not in skip:
        @check('table')
        def _():
            from mmearth_nb.benchmarks import time_pretrain_step, loader_throughput
            from torch.utils.flop_counter import FlopCounterMode
            bs = 8 if a.small else 256
            # measured bf16 matmul rate (the ceiling of the MFU)
            n = 1024 if a.small else 8192
            p = torch.randn(n, n, device=dev, dtype=torch.bfloat16); q = torch.randn(n, n, device=dev, dtype=torch.bfloat16)
            for _ in range(3): p @ q
            if cuda: torch.cuda.synchronize()
            t = time.perf_counter(); reps = 2 if a.small else 10
            for _ in range(reps): p @ q
            if cuda: torch.cuda.synchronize()
            peak = 2 * n ** 3 * reps / (time.perf_counter() - t)
            del p, q
            step = time_pretrain_step(sample, size='atto', tasks='all', impl='sparse', batch_size=bs, steps=3 if a.small else 10,
                                      warmup=1 if a.small else 3, device=str(dev), amp=cuda)
            # FLOPs of one step (forward + backward), counted by torch
            torch.manual_seed(0)
            model = mpmae('atto', tasks='all', impl='sparse', patch_size=16).to(dev)
            crit = MultiTaskLoss(model.tasks, patch_size=16).to(dev)
            ds = FastMMEarthDataset(sample, split=None, tasks='all')
            batch = next(iter(make_loader(ds, min(bs, len(ds)), num_workers=0)))
            image = batch['image'].to(dev); targets = {k: v.to(dev) for k, v in batch['targets'].items()}
            with FlopCounterMode(display=False) as fc:
                with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=cuda):
                    preds, mask = model(image)
                crit({k: v.float() for k, v in preds.items()}, targets, mask)[0].backward()
            flops_per_tile = fc.get_total_flops() / image.shape[0]
            achieved = flops_per_tile * step['tiles_per_s']
            ds_dev = FastMMEarthDataset(sample, split=None, tasks='all', normalize='device')
            w = loader_throughput(ds_dev, workers=1, batch_size=8, max_seconds=5 if a.small else 20)
            return {'batch_size': bs, 'tiles_per_s_per_gpu': step['tiles_per_s'], 'step_s': step['step_s'],
                    'peak_memory_mb': step.get('peak_mb'), 'gflop_per_tile': flops_per_tile / 1e9,
                    'bf16_matmul_tflops': peak / 1e12, 'mfu': achieved / peak,
                    'data_worker_tiles_per_s': w['tiles_per_s'],
                    'cpu_workers_per_gpu': math.ceil(step['tiles_per_s'] / w['tiles_per_s'])}

    (out / 'gpu_check.json').write_text(json.dumps(RESULTS, indent=1, default=str))
    md = ['| check | result |', '|---|---|']
    for k, v in RESULTS.items():
        if k == 'machine': continue
        md.append(f"| {k} | {'PASS' if v.get('ok') else 'FAIL'}: " +
                  ', '.join(f"{kk}={vv:.4g}" if isinstance(vv, float) else f"{kk}={vv}" for kk, vv in v.items()
                            if kk not in ('ok', 'traceback', 'runs', 'ops')) + ' |')
    (out / 'gpu_check.md').write_text(f"Machine: {RESULTS['machine']}\n\n" + '\n'.join(md) + '\n')
    print('\n'.join(md))
    print(f"gpu_check: {len(RESULTS) - 1 - len(FAILED)} passed, {len(FAILED)} failed")
    sys.exit(1 if FAILED else 0)

if __name__ == '__main__': main()
