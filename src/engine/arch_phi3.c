/* arch_phi3.c — the Phi-3 block: fused attn_qkv (output rows Q, then K,
 * then V) and fused ffn_up (gate rows, then up rows: down(silu(gate) * up)),
 * NeoX RoPE, Q scaled by 1/sqrt(head_dim) before QK^T, and a sliding window
 * (phi3.attention.sliding_window, required; 0 = none) on every layer, as
 * llama.cpp c392e509 applies it. Long-context rope factor tensors (Phi-3
 * 128k) are not supported and fail to load with a message. */
#include "engine/engine_internal.h"

#include <stdio.h>

static int phi3_hparams(struct loader *ld)
{
	struct hparams *hp = &ld->m->hp;
	int rc;
	hp->rope_mode = ROPE_NEOX;
	hp->q_prescale = true;
	if ((rc = arch__rope_scaling(ld)) || (rc = arch__gemma_swa(ld, -1)))
		return rc;
	if (gguf_find_tensor(ld->f, "rope_factors_long.weight"))
		return err_set(ld->err, ERR_UNSUPPORTED,
		               "rope_factors_long.weight: long-context Phi-3 rope scaling is not "
		               "supported");
	hp->swa_pattern = hp->n_swa > 0 ? 1 : 0;
	for (int il = 0; il < hp->n_layer; il++)
		ld->m->layers[il].window = hp->n_swa;
	return 0;
}

static int phi3_layer(struct loader *ld, int il)
{
	const struct hparams *hp = &ld->m->hp;
	struct layer *L = &ld->m->layers[il];
	int64_t nq = (int64_t)hp->n_head * hp->head_dim_k;
	int64_t nk = hp_kv_dim_k(hp), nv = hp_kv_dim_v(hp);
	struct tensor qkv, gate_up;
	char name[96];
	int rc;
#define NAME(s) (snprintf(name, sizeof name, "blk.%d." s, il), name)
	if ((rc = arch__vector(ld, &L->attn_norm, NAME("attn_norm.weight"), hp->n_embd, true)) ||
	    (rc =
	         arch__matrix(ld, &qkv, NAME("attn_qkv.weight"), hp->n_embd, nq + nk + nv, true)) ||
	    (rc = arch__matrix(ld, &L->wo, NAME("attn_output.weight"),
	                       (int64_t)hp->n_head * hp->head_dim_v, hp->n_embd, true)) ||
	    (rc = arch__vector(ld, &L->ffn_norm, NAME("ffn_norm.weight"), hp->n_embd, true)) ||
	    (rc = arch__matrix(ld, &gate_up, NAME("ffn_up.weight"), hp->n_embd,
	                       2 * (int64_t)hp->n_ff, true)) ||
	    (rc = arch__matrix(ld, &L->ffn_down, NAME("ffn_down.weight"), hp->n_ff, hp->n_embd,
	                       true)))
		return rc;
#undef NAME
	L->wq = arch__rows(&qkv, 0, nq);
	L->wk = arch__rows(&qkv, nq, nk);
	L->wv = arch__rows(&qkv, nq + nk, nv);
	L->ffn_gate = arch__rows(&gate_up, 0, hp->n_ff);
	L->ffn_up = arch__rows(&gate_up, hp->n_ff, hp->n_ff);
	return 0;
}

const struct arch_desc arch_phi3 = {"phi3", phi3_hparams, phi3_layer};
