"""VAE <-> spiking VAE conversion and export to snnTorch, Norse and NIR.

The exporters import snnTorch, Norse and NIR only when called (``pip install
'spikedefense[export]'`` installs all three).
"""

from .svae import ENCODER_NAMES, MIRRORS, SVAE, ConvertedLayer
from .to_nir import to_nir
from .to_norse import to_norse
from .to_snntorch import to_snntorch
from .vae_svae import svae_to_vae, vae_to_svae

__all__ = [
    "ENCODER_NAMES",
    "MIRRORS",
    "SVAE",
    "ConvertedLayer",
    "svae_to_vae",
    "to_nir",
    "to_norse",
    "to_snntorch",
    "vae_to_svae",
]
