"""ANN <-> SNN conversion (any feed-forward chain, and the ConvVAE) and export to snnTorch, Norse
and NIR.

- :func:`to_spiking` / :func:`from_spiking`: a feed-forward PyTorch model as a
  :class:`SpikingNetwork` on the core, and back;
- :func:`vae_to_svae` / :func:`svae_to_vae`: the ConvVAE as an :class:`SVAE` (the same method,
  with the VAE's heads and latent code), and back;
- :func:`from_nir`, :func:`from_snntorch`, :func:`from_norse`: a feed-forward spiking model of
  those libraries as an :class:`ImportedNetwork` on the core (:func:`to_nir` writes it back);
  given ``svae=``, a spiking VAE that :func:`to_snntorch` / :func:`to_norse` wrote comes back
  as an :class:`SVAE` (:mod:`.svae_import`).

The exporters and importers import snnTorch, Norse and NIR only when called (``pip install
'spikedefense[export]'`` installs all three).
"""

from ..snn.chain import ChainOp, SpikingNetwork, SpikingOutput
from ..snn.imported import ImportedNetwork
from .from_nir import from_nir
from .from_norse import from_norse
from .from_snntorch import from_snntorch
from .spiking import ConvertedChain, from_spiking, to_spiking
from .svae import ENCODER_NAMES, MIRRORS, SVAE, ConvertedLayer
from .to_nir import to_nir
from .to_norse import to_norse
from .to_snntorch import to_snntorch
from .vae_svae import svae_to_vae, vae_to_svae

__all__ = [
    "ChainOp",
    "ConvertedChain",
    "ENCODER_NAMES",
    "ImportedNetwork",
    "MIRRORS",
    "SVAE",
    "ConvertedLayer",
    "SpikingNetwork",
    "SpikingOutput",
    "from_nir",
    "from_norse",
    "from_snntorch",
    "from_spiking",
    "svae_to_vae",
    "to_nir",
    "to_norse",
    "to_snntorch",
    "to_spiking",
    "vae_to_svae",
]
