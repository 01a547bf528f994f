"""The seed report's systems (``emofx systems``): ``run.run_systems``, ``config.SystemsParams``.

Empty on purpose: params validation imports ``emofx.systems.config`` in every stage, which must not
load the systems' training code (dvc.yaml deps follow the import graph).
"""
