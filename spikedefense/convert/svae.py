"""The spiking VAE (SVAE): a trained :class:`~spikedefense.models.ConvVAE` in converted form.

This module documents the method; :mod:`.vae_svae` implements it. The data structures
(:class:`SVAE`, :class:`ConvertedLayer`, :data:`ENCODER_NAMES`, :data:`MIRRORS`) live in
:mod:`spikedefense.snn.svae`, below the converter, and are re-exported here.

What the conversion does (``vae_to_svae``), layer by layer, in float64:

1. **BatchNorm folding.** A conv / deconv / linear ``W`` followed by BN with scale
   ``s = gamma / sqrt(var + eps)`` and shift ``beta - mean * s`` becomes ``W' = W * s`` (per output
   channel) with the **explicit bias** ``b' = shift``; a layer with its own bias (the heads and the
   last deconv) keeps it. The BN statistics are stored, so the inverse can unfold them.
2. **Data-based normalisation** (Diehl et al. 2015; Rueckauer et al. 2017). ``scale`` of a ReLU
   layer is the ``percentile`` (default 99.9) of its positive activations on the calibration
   images. The normalised layer is ``W~ = W' * input_scale / scale`` and ``b~ = b' / scale``,
   where ``input_scale`` is the previous layer's ``scale`` (1 for pixels and for the latent code).
   A non-leaky integrate-and-fire neuron with threshold 1 and reset by subtraction, driven by
   ``W~ @ spikes + b~`` per step, then fires at a rate close to ``activation / scale``.
   Readout layers (the μ / log-variance heads and the last deconv) do not spike; their scale is 1
   and their output is the time-averaged current.
3. **Mapping into the STDP weight range.** STDP's soft bound ``w (1 - w)`` needs weights in
   [0, 1]. Each layer stores ``unit_range = max |W~|`` and maps ``u = (W~ / unit_range + 1) / 2``
   (so 0 maps to 0.5) and back ``W~ = (2u - 1) * unit_range``. The mapping is affine and exact up
   to rounding; the soft bound keeps slept weights inside ``[-unit_range, unit_range]`` and, as
   a consequence, holds the layer's largest-magnitude weight (u = 0 or 1) fixed.

``svae_to_vae`` inverts all three: ``W = W~ * scale / input_scale / s``; the BN modules get their
stored statistics back, so a round trip with no sleep returns the same weights and outputs.
Channels whose BN scale is exactly 0 carry no signal; their original weights are stored and
restored as they were.

Choices where seed 000 is loose (its §3.3 assumes ReLU and no biases): biases are carried as a
constant current per step rather than dropped; normalisation uses a percentile of positive
activations; the unit mapping above is ours.

Example:
    >>> import torch
    >>> from spikedefense.models import ConvVAE
    >>> from spikedefense.convert import vae_to_svae
    >>> vae = ConvVAE(latent_dim=8).eval()
    >>> svae = vae_to_svae(vae, torch.rand(16, 1, 28, 28))
    >>> [layer.name for layer in svae.layers]
    ['S1', 'S2', 'S3', 'S4', 'mu', 'logvar', 'D0', 'D1', 'D2', 'D3', 'D4']
"""

from __future__ import annotations

from ..snn.svae import ENCODER_NAMES, MIRRORS, SVAE, ConvertedLayer

__all__ = ["ENCODER_NAMES", "MIRRORS", "SVAE", "ConvertedLayer"]
