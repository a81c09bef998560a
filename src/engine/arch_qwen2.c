/* arch_qwen2.c — the Qwen2 / Qwen2.5 block: the llama block plus biases on
 * the Q, K and V projections (added before RoPE) and NeoX-mode RoPE (pairs
 * (i, i + d/2)); the output is usually tied to token_embd. */
#include "engine/engine_internal.h"

static int qwen2_hparams(struct loader *ld)
{
	ld->m->hp.rope_mode = ROPE_NEOX;
	return arch__rope_scaling(ld);
}

static int qwen2_layer(struct loader *ld, int il)
{
	int rc = arch__bind_attn(ld, il, true);
	return rc ? rc : arch__bind_ffn(ld, il);
}

const struct arch_desc arch_qwen2 = {"qwen2", qwen2_hparams, qwen2_layer};
