/* arch_llama.c — the llama block (Llama 2/3, TinyLlama, SmolLM, Mistral,
 * Karpathy's stories): RMSNorm, normal-mode RoPE (adjacent pairs) with an
 * optional linear scaling or rope_freqs factors (Llama 3.1), grouped-query
 * attention scaled by 1/sqrt(head_dim), SwiGLU, tied or separate output.
 * llama.attention.sliding_window is ignored, as llama.cpp ignores it. */
#include "engine/engine_internal.h"

static int llama_hparams(struct loader *ld)
{
	struct hparams *hp = &ld->m->hp;
	int rc = arch__rope_scaling(ld);
	if (rc)
		return rc;
	/* Llama 3.1+ files carry per-frequency divisors as a tensor. */
	return arch__vector(ld, &hp->rope_freqs, "rope_freqs.weight", hp->n_rot / 2, false);
}

static int llama_layer(struct loader *ld, int il)
{
	int rc = arch__bind_attn(ld, il, false);
	return rc ? rc : arch__bind_ffn(ld, il);
}

const struct arch_desc arch_llama = {"llama", llama_hparams, llama_layer};
