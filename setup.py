"""Shipyard: train, compress and ship Keras models with TFX."""
from setuptools import find_packages, setup

setup(
    name="shipyard",
    version="0.1.0",
    description="Production ML pipelines on TFX: train, optimise, convert and serve Keras models.",
    python_requires="==3.10.*",
    packages=find_packages(include=["pipelines*", "components*", "models*", "serving*"]),
    package_data={"pipelines": ["common.yaml", "*/config.yaml", "smart_reply/eval_messages.tsv"]},
    # The exact set is pinned in requirements.lock; these are the direct dependencies.
    install_requires=[
        "tfx==1.16.0",
        "tensorflow==2.16.2",
        "tf-keras==2.16.0",
        "tensorflow-model-optimization==0.8.0",
        "tensorflow-text==2.16.1",
        "tensorflow-serving-api==2.16.1",
        "dill",
        "scikit-learn",
        "pillow",
        "pyyaml",
    ],
    entry_points={"console_scripts": [
        "shipyard=pipelines.cli:main",
        # TF Serving's tensorflow_model_server flags: --model_name, --model_base_path, --port, ...
        "shipyard-model-server=serving.server:main",
    ]},
)
