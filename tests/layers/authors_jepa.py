"""The authors' Density-Adaptive JEPA modules, as test oracles.

Transcribed from their definitions in `gioannides/Density-Adaptive-JEPA`,
`train_fsqvae_jepa.py` (arXiv 2512.07168): `GaussianAdaptiveAttention`
(which ignores its `num_heads`: one head) and the gated residual block
`GAttnGateG` (channels first, `[batch, channels, time]`). PyTorch, a test
requirement on every backend (tests/test_environment.py).
"""

import math


def gaussian_adaptive_attention(num_densities, norm_axis):
    """`GaussianAdaptiveAttention(norm_axis, 1, num_densities)`; its forward
    returns `(x * gate, gate)` (their `return_attention_details=True`)."""
    import torch

    class GaussianAdaptiveAttention(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.norm_axis = norm_axis
            self.mean_offsets = torch.nn.Parameter(torch.zeros(num_densities))
            self.log_sigma = torch.nn.Parameter(
                torch.full((num_densities,), math.log(0.5))
            )

        def forward(self, x):
            xf = x.float()
            mean = xf.mean(dim=self.norm_axis, keepdim=True)
            var = xf.var(dim=self.norm_axis, keepdim=True, unbiased=False)
            std = var.clamp_min(1e-6).sqrt()
            sigma = torch.nn.functional.softplus(self.log_sigma) + 1e-3
            terms = []
            for k in range(num_densities):
                z = (xf - (mean + self.mean_offsets[k])) / (
                    std * sigma[k] + 1e-8
                )
                terms.append(
                    -0.5 * z * z
                    - torch.log(sigma[k])
                    - 0.5 * math.log(2 * math.pi)
                )
            log_gate = torch.logsumexp(torch.stack(terms, -1), -1)
            gate = torch.exp(log_gate - math.log(num_densities))
            return (xf * gate).to(x.dtype), gate.to(x.dtype)

    return GaussianAdaptiveAttention()


def gated_residual_block(channels, num_densities):
    """`GAttnGateG(channels, num_densities)`: `forward(x [B, C, T])` returns
    `(x * (1 + alpha * gate), gate [B, 1, T])`."""
    import torch

    class GAttnGateG(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.to_attn = torch.nn.Conv1d(channels, 1, 1)
            self.gaa = gaussian_adaptive_attention(num_densities, 2)
            self.alpha = torch.nn.Parameter(torch.tensor(0.05))

        def forward(self, x):
            _, gate = self.gaa(self.to_attn(x))
            return x * (1.0 + self.alpha * gate), gate

    return GAttnGateG()
