"""Datasets for the training lab, one topic a module.

- :mod:`~explorer.data.registry`: the named datasets, each with its loader; where data
  files live; loading by name or path, and loading a checkpoint's split again.
- :mod:`~explorer.data.splits`: the :class:`~explorer.data.splits.Dataset` and
  :class:`~explorer.data.splits.Split` records and the seeded train/validation/test splits.
- :mod:`~explorer.data.formats`: the published file formats (IDX, CIFAR-10 batches).
- :mod:`~explorer.data.shapes`: the generated shapes and orientations.
- :mod:`~explorer.data.user_folders`: a zip or folder of class-named folders of images.
- :mod:`~explorer.data.download`: MNIST and Fashion-MNIST downloads, only when asked.
- :mod:`~explorer.data.augmentation`: random per-image transforms of training batches (JAX).
"""
