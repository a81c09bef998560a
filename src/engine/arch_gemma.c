/* arch_gemma.c — the Gemma (1) block: the input embedding times
 * sqrt(n_embd), NeoX RoPE, Q scaled by 1/sqrt(head_dim) before QK^T,
 * GeGLU with tanh-GELU (llama.cpp's F16 table, see ops.c), tied output.
 * Norm weights are used as stored (the converter folded in the "1 + w"). */
#include "engine/engine_internal.h"

#include <math.h>

static int gemma_hparams(struct loader *ld)
{
	struct hparams *hp = &ld->m->hp;
	hp->rope_mode = ROPE_NEOX;
	hp->act = ACT_GELU;
	hp->embd_scale = sqrtf((float)hp->n_embd);
	hp->q_prescale = true;
	return 0;
}

static int gemma_layer(struct loader *ld, int il)
{
	int rc = arch__bind_attn(ld, il, false);
	return rc ? rc : arch__bind_ffn(ld, il);
}

const struct arch_desc arch_gemma = {"gemma", gemma_hparams, gemma_layer};
