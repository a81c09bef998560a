/* arch_gemma2.c — the Gemma 2 block: Gemma plus RMS post-norms on the
 * attention and FFN outputs, attention-score soft-capping (cap * tanh(s /
 * cap), default 50) and final-logit soft-capping (default 30), and a sliding
 * window (default 4096) on the even layers (il % 2 == 0). The 27B model
 * (46 layers) scales Q by 1/sqrt(n_embd / n_head) instead of 1/sqrt(head_dim). */
#include "engine/engine_internal.h"

#include <math.h>

int arch__gemma_swa(struct loader *ld, int default_window)
{
	struct hparams *hp = &ld->m->hp;
	uint32_t w;
	int rc = arch__get_u32(ld, "attention.sliding_window", &w, false);
	if (rc == ERR_NOT_FOUND && default_window < 0)
		return arch__get_u32(ld, "attention.sliding_window", &w, true);
	if (rc == ERR_NOT_FOUND)
		w = (uint32_t)default_window;
	else if (rc)
		return rc;
	hp->n_swa = (int)(w > INT32_MAX ? INT32_MAX : w);
	return 0;
}

static int gemma2_hparams(struct loader *ld)
{
	struct hparams *hp = &ld->m->hp;
	int rc;
	hp->rope_mode = ROPE_NEOX;
	hp->act = ACT_GELU;
	hp->embd_scale = sqrtf((float)hp->n_embd);
	hp->q_prescale = true;
	if (hp->n_layer == 46)
		hp->kq_scale = 1.0f / sqrtf((float)(hp->n_embd / hp->n_head));
	hp->attn_softcap = 50.0f;
	hp->final_softcap = 30.0f;
	rc = arch__get_f32(ld, "attn_logit_softcapping", &hp->attn_softcap, false);
	if (rc && rc != ERR_NOT_FOUND)
		return rc;
	rc = arch__get_f32(ld, "final_logit_softcapping", &hp->final_softcap, false);
	if (rc && rc != ERR_NOT_FOUND)
		return rc;
	if ((rc = arch__gemma_swa(ld, 4096)))
		return rc;
	hp->swa_pattern = 2;
	for (int il = 0; il < hp->n_layer; il++)
		ld->m->layers[il].window = il % 2 == 0 ? hp->n_swa : 0;
	return 0;
}

static int gemma2_layer(struct loader *ld, int il)
{
	int rc = arch__bind_attn(ld, il, false);
	if (!rc)
		rc = arch__bind_ffn(ld, il);
	return rc ? rc : arch__bind_post_norms(ld, il);
}

const struct arch_desc arch_gemma2 = {"gemma2", gemma2_hparams, gemma2_layer};
