/* arch_gemma3.c — the Gemma 3 block: Gemma 2's post-norms and embedding
 * scale, per-head RMS norms on Q and K before NeoX RoPE, no soft-capping, and
 * a 5-local : 1-global layer pattern: layers with il % 6 < 5 use the sliding
 * window and RoPE base 10000 without scaling; the others full attention with
 * the file's base (default 1e6) and linear scaling. Reads llama.cpp's key
 * spellings and Ollama's (rope.global/local.freq_base), with Ollama's defaults
 * when absent (eps 1e-6); see ../shared/models/README.md, section gemma3. */
#include "engine/engine_internal.h"

#include <stdio.h>

#include <math.h>

static int opt_f32(struct loader *ld, const char *suffix, float *v)
{
	int rc = arch__get_f32(ld, suffix, v, false);
	return rc == ERR_NOT_FOUND ? 0 : rc;
}

static int gemma3_rope(struct loader *ld)
{
	struct hparams *hp = &ld->m->hp;
	float global = 1000000.0f, local = 10000.0f;
	int rc;
	if ((rc = opt_f32(ld, "rope.freq_base", &global)) ||
	    (rc = opt_f32(ld, "rope.global.freq_base", &global)) ||
	    (rc = opt_f32(ld, "rope.local.freq_base", &local)))
		return rc;
	hp->rope[0] = (struct rope_cfg){global, 1.0f};
	if ((rc = arch__rope_scaling(ld))) /* global layers only */
		return rc;
	hp->rope[1] = (struct rope_cfg){local, 1.0f};
	return 0;
}

static int gemma3_hparams(struct loader *ld)
{
	struct hparams *hp = &ld->m->hp;
	int rc, pattern = 6;
	hp->rope_mode = ROPE_NEOX;
	hp->act = ACT_GELU;
	hp->embd_scale = sqrtf((float)hp->n_embd);
	hp->q_prescale = true;
	if (hp->n_layer == 62) /* 27B */
		hp->kq_scale = 1.0f / sqrtf((float)(hp->n_embd / hp->n_head));
	if (hp->eps == 0.0f)
		hp->eps = 1e-6f;
	if ((rc = gemma3_rope(ld)) || (rc = arch__gemma_swa(ld, -1)))
		return rc;
	uint32_t p;
	rc = arch__get_u32(ld, "attention.sliding_window_pattern", &p, false);
	if (rc == 0 && p >= 1 && p <= 4096)
		pattern = (int)p;
	else if (rc != ERR_NOT_FOUND && rc != ERR_INVALID)
		return rc;
	hp->swa_pattern = pattern;
	for (int il = 0; il < hp->n_layer; il++) {
		bool local = il % pattern < pattern - 1;
		ld->m->layers[il].window = local ? hp->n_swa : 0;
		ld->m->layers[il].rope_cfg = local ? 1 : 0;
	}
	return 0;
}

static int gemma3_layer(struct loader *ld, int il)
{
	const struct hparams *hp = &ld->m->hp;
	struct layer *L = &ld->m->layers[il];
	char name[96];
	int rc = arch__bind_attn(ld, il, false);
	if (!rc)
		rc = arch__bind_ffn(ld, il);
	if (!rc)
		rc = arch__bind_post_norms(ld, il);
	if (rc)
		return rc;
	snprintf(name, sizeof name, "blk.%d.attn_q_norm.weight", il);
	if ((rc = arch__vector(ld, &L->q_norm, name, hp->head_dim_k, true)))
		return rc;
	snprintf(name, sizeof name, "blk.%d.attn_k_norm.weight", il);
	return arch__vector(ld, &L->k_norm, name, hp->head_dim_k, true);
}

const struct arch_desc arch_gemma3 = {"gemma3", gemma3_hparams, gemma3_layer};
