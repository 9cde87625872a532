"""ProbSparse self-attention (Informer, Zhou et al. 2021, Section 3.1).

Notation: B batch, H heads, L query length, S key length, D head dim, U sampled keys per query, u active queries.
"""

import math

import torch
from torch import Tensor

from .base import Attention, check_qkv
from .full import softmax_attention

SAMPLINGS = ("per_query", "shared")
SELECTIONS = ("global", "prefix")
LAZY = ("mean", "cumsum")  # what causal lazy queries get: uniform attention (the paper's) or the official code's sum
# Elements of the (B, H, Lc, U, D) key gather per chunk in per-query sampling: bounds its memory.
_GATHER_CHUNK = 1 << 24


def sample_size(factor: int, n: int) -> int:
    """c * ceil(ln n), clipped to [1, n]: U for n keys, u for n queries."""
    return max(1, min(n, factor * math.ceil(math.log(n)))) if n > 1 else 1


def uniform_output(v: Tensor, L: int, causal: bool, cumulative_sum: bool = False) -> Tensor:
    """Output of uniform attention: the mean of the values each query may see.

    Non-causal: mean over all S values. Causal: query i gets mean(v_0 .. v_min(i, S-1)), or with ``cumulative_sum``
    their sum (what the official Informer code gives the masked decoder's lazy queries).

    Shape:
        v: (B, H, S, D); returns (B, H, L, D).
    """
    B, H, S, D = v.shape
    if not causal:
        return v.mean(dim=-2, keepdim=True).expand(B, H, L, D)
    running = v.cumsum(dim=-2)  # (B, H, S, D)
    if not cumulative_sum:
        running = running / torch.arange(1, S + 1, device=v.device, dtype=v.dtype).unsqueeze(-1)  # / (S, 1) counts
    if L == S:
        return running
    last = torch.arange(L, device=v.device).clamp(max=S - 1)  # (L,)
    return running[:, :, last]


def prefix_top(m: Tensor, u: int, chunk: int = 64) -> Tensor:
    """Causal top-u: query i is selected iff m_i is among the u largest of m_0 .. m_i (ties count for i).

    Computed chunk by chunk against a running top-u of the prefix, in O(L (u + chunk)) comparisons.

    Shape:
        m: (B, H, L); returns bool (B, H, L).
    """
    L = m.shape[-1]
    w = max(chunk, u)
    tri = torch.ones(w, w, dtype=torch.bool, device=m.device).tril(-1)  # (w, w): j < i
    best = m[..., :0]  # running u largest of the prefix, (B, H, <=u)
    selected = []
    for a in range(0, L, w):
        part = m[..., a:a + w]  # (B, H, n)
        n = part.shape[-1]
        above_prefix = (best.unsqueeze(-2) > part.unsqueeze(-1)).sum(-1)  # (B, H, n)
        above_chunk = ((part.unsqueeze(-2) > part.unsqueeze(-1)) & tri[:n, :n]).sum(-1)  # (B, H, n)
        selected.append(above_prefix + above_chunk < u)
        both = torch.cat([best, part], dim=-1)
        best = both.topk(min(u, both.shape[-1]), dim=-1).values
    return torch.cat(selected, dim=-1)


class ProbSparseAttention(Attention):
    """ProbSparse attention: the u queries with the largest sparsity measurement attend exactly; the rest are lazy.

    For each query the sparsity measurement is eq. (4) of the paper, evaluated on U sampled keys:

        M̄(q_i, K) = max_j (q_i k_j^T / sqrt(D)) - mean_j (q_i k_j^T / sqrt(D)),

    with U = factor * ceil(ln S) and u = factor * ceil(ln L). The top-u queries get exact softmax attention over every
    key they may see; every other query gets the output of *uniform* attention, the mean of the values it may see:
    mean(V) without a mask, mean(v_0 .. v_i) with ``causal=True``. The official code fills masked lazy queries with
    the cumulative *sum* of V instead (``lazy="cumsum"``); we use the mean, which is what uniform attention is. When
    u >= L every query is active and the kernel is exactly full attention.

    Causal selection (``causal=True``) comes in two kinds, ``selection``:

    - "global" (the paper's and the official code's; Informer's decoder default): exactly the u queries with the
      largest M̄ over all L queries attend (to the keys j <= i they may see); every other query is lazy. Each
      query's M̄ is measured on the sampled keys it may see, and one that sees none of them is ranked last. The
      choice of which rows are active depends on later rows, so a later input can change an earlier output: fine
      for the decoder, which predicts every row at once from known inputs, not for autoregressive generation.
    - "prefix" (the kernel's default, what an autoregressive model needs): query i is active iff its M̄ is among the
      u largest of M̄_0 .. M̄_i (``prefix_top``), so a row never depends on later rows. More rows are active than u:
      rows 0 .. u-1 always, and since the causal M̄ grows with i, many later ones (58-65 of 72 at L = 72, u = 25 on
      random inputs, more than the u (1 + ln(L / u)) of exchangeable scores). A query that sees none of the sampled
      keys has M̄ = -inf and is still active when i < u (it is then among the u largest of its prefix).

    Only the active rows are gathered: u per head in global mode, the most any (batch, head) has in prefix mode.
    A causal query also samples only keys it may see.

    M̄'s mean is over the U sampled scores, as in the paper's eq. (4) restricted to the sample; the official code
    divides their sum by L_K instead, which scales the mean term by U / L_K (not copied).

    Memory is O(L log L + u S): no (L, S) score matrix is built. The measurement is computed without autograd: it only
    chooses the active queries, and that choice has no gradient.

    Args:
        factor: the sampling factor c.
        sampling: "shared" (default) samples one set of U keys per call, shared by all queries and heads (a matmul);
            "per_query" samples U keys independently for every query, as in the paper (a gather, processed in
            chunks). Shared is 5-6x faster at long L; on ETTh1 M/24 its test MSE was
            0.532 against per-query's 0.524 (one seed each; benchmarks/results).
        seed: seeds the sampling. In ``eval()`` mode every call restarts from this seed (else ``eval_seed``), so the
            same input gives the same output; in training mode a generator seeded once with it runs on across
            calls (with no seed and no generator, the global torch RNG is used).
        generator: a CPU ``torch.Generator`` for training-mode sampling; overrides ``seed`` in training.
        selection: which causal queries are active, "prefix" or "global" (above); no effect without ``causal``.
        eval_seed: the eval-mode seed when ``seed`` is None; a model gives each layer its own (Informer: the layer's
            index), so layers of the same length do not all measure with the same keys.
        lazy: what the lazy queries of a causal call get: "mean" (uniform attention, the default) or "cumsum" (the
            sum of the values they may see, as the official code's masked decoder does); no effect without ``causal``.
    """

    def __init__(self, factor: int = 5, sampling: str = "shared", seed: int | None = None,
                 generator: torch.Generator | None = None, selection: str = "prefix", eval_seed: int = 0,
                 lazy: str = "mean"):
        super().__init__()
        if factor < 1:
            raise ValueError(f"factor must be >= 1, got {factor}")
        if sampling not in SAMPLINGS:
            raise ValueError(f"sampling must be one of {SAMPLINGS}, got {sampling!r}")
        if selection not in SELECTIONS:
            raise ValueError(f"selection must be one of {SELECTIONS}, got {selection!r}")
        if lazy not in LAZY:
            raise ValueError(f"lazy must be one of {LAZY}, got {lazy!r}")
        self.factor = factor
        self.sampling = sampling
        self.selection = selection
        self.lazy = lazy
        self.eval_seed = eval_seed
        self.seed = seed
        self._train_generator = generator
        if generator is None and seed is not None:
            self._train_generator = torch.Generator().manual_seed(seed)
        # (B, H, n) indices of the active queries of the last call; -1 pads rows with fewer active queries.
        self.last_active: Tensor | None = None
        self.last_length = 0  # L of the last call
        # Eval-mode samples are a pure function of (L, S, causal) for a seed; cached so that tracing and export see
        # a constant instead of a random-number generator.
        self._eval_samples: dict[tuple, Tensor] = {}

    def extra_repr(self) -> str:
        return (f"factor={self.factor}, sampling={self.sampling!r}, selection={self.selection!r}, lazy={self.lazy!r}, "
                f"seed={self.seed}")

    def _generator(self) -> torch.Generator | None:
        if self.training:
            return self._train_generator
        return torch.Generator().manual_seed(self.eval_seed if self.seed is None else self.seed)

    def _sample(self, L: int, S: int, U: int, causal: bool) -> Tensor:
        """Key indices to measure with: U keys without replacement ("shared"), or U keys per query with replacement
        ("per_query"; a causal query samples only among the keys it may see)."""
        key = (L, S, U, causal)
        if not self.training and key in self._eval_samples:
            return self._eval_samples[key]
        gen = self._generator()
        if self.sampling == "shared":
            idx = torch.randperm(S, generator=gen)[:U].sort().values  # (U,)
        elif causal:
            limit = torch.arange(L).clamp(max=S - 1).add(1).unsqueeze(1)  # (L, 1)
            idx = (torch.rand(L, U, generator=gen) * limit).long()  # (L, U)
        else:
            idx = torch.randint(S, (L, U), generator=gen)  # (L, U)
        if not self.training:
            self._eval_samples[key] = idx
        return idx

    @torch.no_grad()
    def measurement(self, q: Tensor, k: Tensor, causal: bool) -> Tensor:
        """M̄(q_i, K) of every query over its sampled keys, shape (B, H, L)."""
        B, H, L, D = q.shape
        S = k.shape[2]
        U = sample_size(self.factor, S)
        scale = 1.0 / math.sqrt(D)
        idx = self._sample(L, S, U, causal).to(q.device)  # (U,) shared, or (L, U) per query
        if self.sampling == "shared":
            scores = (q @ k[:, :, idx].transpose(-2, -1)) * scale  # (B, H, L, U)
            if not causal:
                return scores.amax(-1) - scores.mean(-1)
            visible = idx.unsqueeze(0) <= torch.arange(L, device=q.device).unsqueeze(1)  # (L, U)
            n_visible = visible.sum(-1)  # (L,)
            top = scores.masked_fill(~visible, float("-inf")).amax(-1)
            mean = scores.masked_fill(~visible, 0.0).sum(-1) / n_visible.clamp(min=1)
            # A query that sees none of the sampled keys cannot be measured: it ranks below every measured one.
            return torch.where(n_visible > 0, top - mean, torch.full_like(mean, float("-inf")))
        chunk = max(1, _GATHER_CHUNK // max(1, B * H * U * D))
        out = []
        for start in range(0, L, chunk):
            sel = idx[start:start + chunk]  # (Lc, U)
            k_sample = k[:, :, sel]  # (B, H, Lc, U, D)
            s = torch.einsum("bhld,bhlud->bhlu", q[:, :, start:start + chunk], k_sample) * scale  # (B, H, Lc, U)
            out.append(s.amax(-1) - s.mean(-1))
        return torch.cat(out, dim=-1)

    def forward(self, q: Tensor, k: Tensor, v: Tensor, causal: bool = False) -> Tensor:
        check_qkv(q, k, v)
        B, H, L, D = q.shape
        S = k.shape[2]
        u = sample_size(self.factor, L)
        self.last_length = L
        keep = not torch.compiler.is_exporting()  # an export records no diagnostics (it warns of tensors set on
        # modules); a compiled forward keeps them
        if u >= L:
            if keep:
                self.last_active = torch.arange(L, device=q.device).expand(B, H, L)
            return softmax_attention(q, k, v, causal)
        m = self.measurement(q, k, causal)  # (B, H, L)
        context = uniform_output(v, L, causal, self.lazy == "cumsum")  # (B, H, L, D)
        if causal and self.selection == "prefix":
            selected = prefix_top(m, u)  # (B, H, L)
            # Exported graphs need a static size: there every query is gathered and the lazy ones masked below.
            n = L if torch.compiler.is_exporting() else int(selected.sum(-1).max())
            # Rows with fewer than n selected queries pad with lazy ones, which keep their uniform output below.
            active = selected.to(q.dtype).topk(n, dim=-1, sorted=False).indices  # (B, H, n)
            valid = selected.gather(-1, active).unsqueeze(-1)  # (B, H, n, 1)
        else:
            n = u
            active = m.topk(u, dim=-1, sorted=False).indices  # (B, H, u)
            valid = None
        if keep:
            self.last_active = active if valid is None else active.masked_fill(~valid.squeeze(-1), -1)
        gather_idx = active.unsqueeze(-1).expand(B, H, n, D)
        q_active = q.gather(2, gather_idx)  # (B, H, n, D)
        # The active queries' attention: fused SDPA keeps no (n, S) weights for the backward pass (bf16 CPU training
        # at small n x S takes the explicit form, faster there)
        visible = torch.arange(S, device=q.device) <= active.unsqueeze(-1) if causal else None  # (B, H, n, S)
        out_active = softmax_attention(q_active, k, v, visible=visible)  # (B, H, n, D)
        if valid is not None:
            out_active = torch.where(valid, out_active, context.gather(2, gather_idx))
        return context.scatter(2, gather_idx, out_active)
