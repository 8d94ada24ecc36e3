"""The experiments: the demo and the text, vision, audio and LoRA runs.

Package code behind `keras-daam demo` and `scripts/reproduce_results.py`:
each function takes plain keyword arguments, checks them (and the heads it
will train) before anything expensive, caches every backbone feature in
the feature cache (`keras_daam.features`), trains heads by registry name
with the evaluation protocol (`keras_daam.evaluation`) and returns a
report dict (also written as JSON and Markdown).

- `demo.run_demo`: frozen MiniLM on WordNet supersense, every head.
- `text.run_text`: the same task with the layer heads, the token-axis
  heads and the IF ablation (docs/results.md section 1).
- `vision.run_vision`: EfficientNet-Lite0 on Fashion-MNIST.
- `audio.run_audio`: Whisper tiny.en on *synthetic* spoken digits.
- `lora.run_lora`: LoRA fine-tuning of MiniLM, against a frozen control.
- `ablation.if_ablation`: rank layers by IF, retrain on the top and the
  bottom layers (`keras_daam.explain.importance_ablation`).
- `explanation.explain_head`: the IF figures and summary of a head.

Imports `keras_daam.evaluation` and `keras_daam.explain`; the backbones,
features and datasets load when an experiment runs.
"""

from keras_daam.experiments.ablation import ablation_sentence
from keras_daam.experiments.ablation import if_ablation
from keras_daam.experiments.audio import run_audio
from keras_daam.experiments.common import LAYER_HEADS
from keras_daam.experiments.common import machine_description
from keras_daam.experiments.demo import BASELINES
from keras_daam.experiments.demo import DEMO_HEADS
from keras_daam.experiments.demo import HEADLINE
from keras_daam.experiments.demo import QUICK_HEADS
from keras_daam.experiments.demo import run_demo
from keras_daam.experiments.explanation import explain_head
from keras_daam.experiments.lora import lora_labels
from keras_daam.experiments.lora import run_lora
from keras_daam.experiments.text import TOKEN_HEADS
from keras_daam.experiments.text import run_text
from keras_daam.experiments.vision import LAYER_SETS
from keras_daam.experiments.vision import run_vision

__all__ = [
    "BASELINES",
    "DEMO_HEADS",
    "HEADLINE",
    "LAYER_HEADS",
    "LAYER_SETS",
    "QUICK_HEADS",
    "TOKEN_HEADS",
    "ablation_sentence",
    "explain_head",
    "if_ablation",
    "lora_labels",
    "machine_description",
    "run_audio",
    "run_demo",
    "run_lora",
    "run_text",
    "run_vision",
]
