from pathlib import Path

from setuptools import find_packages, setup

here = Path(__file__).parent
requirements = [
    line.split("#")[0].strip()
    for line in (here / "requirements.txt").read_text().splitlines()
    if line.split("#")[0].strip()
]

setup(
    name="keras_sa",
    version="0.2.0",
    description="Singing voice separation with skip attention (SA-SHN) in Keras",
    long_description=(here / "README.md").read_text(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10,<3.13",
    packages=find_packages(include=["keras_sa", "keras_sa.*"]),
    package_data={
        "keras_sa": ["pretrained/*.keras", "pretrained/*.tflite", "pretrained/*.json", "pretrained/*.md"]
    },
    install_requires=requirements,
    entry_points={"console_scripts": ["keras-sa = keras_sa.cli:main"]},
)
