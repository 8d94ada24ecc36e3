"""Reading a user's data: one place for every reader, label and split.

The CLI, the packaged-data loaders (`keras_daam.datasets`), the feature
cache and the experiments all read data through this package, so a CSV,
an image folder or a WAV file means the same thing everywhere.

- `Dataset`: what was read (texts or file paths, raw labels), what was
  skipped and why, what was changed, and a fingerprint of the content.
- `read_text_table`: CSV / TSV with columns found by name.
- `read_image_folder`, `load_images`: image folders, decoded to RGB.
- `read_audio_folder`, `read_audio`, `fix_length`: WAV folders, decoded to
  mono float at a chosen rate, cut or padded to one length.
- `encode_labels`, `sort_class_names`: class names and ids (numeric order
  for numeric labels; a test set mapped onto the training classes by name).
- `stratified_split`, `split_indices`, `check_sizes`: splits.

Only NumPy and `keras_daam.utils` are imported with the package; scipy
(audio), Pillow (images) and scikit-learn (stratified splits) are
imported by the functions that need them.
"""

from keras_daam.data.audio import AUDIO_EXTENSIONS
from keras_daam.data.audio import CROP_MODES
from keras_daam.data.audio import check_audio
from keras_daam.data.audio import fix_length
from keras_daam.data.audio import read_audio
from keras_daam.data.audio import read_audio_folder
from keras_daam.data.dataset import Dataset
from keras_daam.data.dataset import file_digest
from keras_daam.data.folders import drop_empty_classes
from keras_daam.data.folders import list_folder
from keras_daam.data.images import IMAGE_EXTENSIONS
from keras_daam.data.images import check_image
from keras_daam.data.images import load_images
from keras_daam.data.images import read_image_folder
from keras_daam.data.labels import encode_labels
from keras_daam.data.labels import sort_class_names
from keras_daam.data.splits import check_sizes
from keras_daam.data.splits import split_indices
from keras_daam.data.splits import stratified_split
from keras_daam.data.tables import LABEL_MODES
from keras_daam.data.tables import read_text_table

__all__ = [
    "AUDIO_EXTENSIONS",
    "CROP_MODES",
    "IMAGE_EXTENSIONS",
    "LABEL_MODES",
    "Dataset",
    "check_audio",
    "check_image",
    "check_sizes",
    "drop_empty_classes",
    "encode_labels",
    "file_digest",
    "fix_length",
    "list_folder",
    "load_images",
    "read_audio",
    "read_audio_folder",
    "read_image_folder",
    "read_text_table",
    "sort_class_names",
    "split_indices",
    "stratified_split",
]
