"""Packaging for mmearth_nb, driven by settings.ini (nbdev 2 layout).

Written without pkg_resources (no longer shipped by current setuptools)."""
from configparser import ConfigParser
import setuptools

cfg = ConfigParser(delimiters=['='])
cfg.read('settings.ini', encoding='utf-8')
cfg = cfg['DEFAULT']

for k in 'version description keywords author author_email'.split():
    assert k in cfg, f'settings.ini is missing "{k}"'

licenses = {'apache2': ('Apache Software License 2.0', 'OSI Approved :: Apache Software License')}
statuses = ['Planning', 'Pre-Alpha', 'Alpha', 'Beta', 'Production/Stable', 'Mature', 'Inactive']
lic = licenses[cfg['license']]

def _reqs(key): return cfg.get(key, '').split()

extras = {
    'dev': _reqs('dev_requirements'),          # notebook toolchain + what the notebooks' tests use
    'eval': _reqs('eval_requirements'),        # GEO-Bench (geobench pins numpy<2 through pandas<2)
    'widgets': _reqs('widgets_requirements'),  # the interactive explorer (a static figure otherwise)
    'hub': _reqs('hub_requirements'),          # from_pretrained by Hugging Face repo id
    'export': _reqs('export_requirements'),    # ONNX export (torch.export needs nothing more)
    'cpu': _reqs('cpu_requirements'),  # spconv CPU build; never together with `gpu`
    'gpu': _reqs('gpu_requirements'),  # spconv-cu120 (Python <= 3.11) or spconv-cu126 (3.12+): same module name as spconv
}

setuptools.setup(
    name=cfg['lib_name'],
    license=lic[0],
    classifiers=[
        'Development Status :: ' + statuses[int(cfg['status'])] + ' - ' + statuses[int(cfg['status'])],
        'Intended Audience :: ' + cfg['audience'],
        'License :: ' + lic[1],
        'Natural Language :: ' + cfg['language'],
        'Programming Language :: Python :: 3',
    ],
    url=cfg['git_url'],
    packages=setuptools.find_packages(include=['mmearth_nb', 'mmearth_nb.*']),
    include_package_data=True,
    install_requires=_reqs('requirements'),
    extras_require=extras,
    python_requires='>=' + cfg['min_python'],
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    zip_safe=False,
    entry_points={
        'console_scripts': cfg['console_scripts'].split(),
        'nbdev': [f'{cfg["lib_path"]}={cfg["lib_path"]}._modidx:d'],
    },
    version=cfg['version'],
    author=cfg['author'],
    author_email=cfg['author_email'],
    description=cfg['description'],
    keywords=cfg['keywords'],
)
