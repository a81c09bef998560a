/* sampler_test.c — token selection: greedy ties, top_k, top_p, min_p,
 * repetition/presence/frequency penalties and their window, the draw's
 * distribution, seeded reproducibility, and that logits are left alone.
 * Distribution tolerance: 30000 draws of p = 1/3 have sd 0.0027; we allow
 * 0.015 (over 5 sd). */
#include "support/support.h"

#include "engine/sampler.h"

#include <math.h>
#include <string.h>

static struct sampler *with(int64_t n, void (*set)(struct sampler_params *p))
{
	struct sampler *s = sampler_new(n);
	assert_non_null(s);
	struct sampler_params p;
	sampler_params_greedy(&p);
	p.seed = 42;
	if (set)
		set(&p);
	sampler_reset(s, &p);
	return s;
}

static void test_sampler_argmax_ties_to_lowest(void **state)
{
	float l[] = {1, 3, 0, 3, 2};
	assert_int_equal(sampler_argmax(l, 5), 1);
	struct sampler *s = with(5, NULL);
	assert_int_equal(sampler_sample(s, l, NULL, 0), 1);
	sampler_free(s);
	sampler_free(NULL);
	assert_null(sampler_new(0));
}

static void set_hot_k1(struct sampler_params *p)
{
	p->temperature = 5.0f;
	p->top_k = 1;
}

static void set_hot(struct sampler_params *p)
{
	p->temperature = 1.0f;
	p->top_p = 1.0f;
	p->top_k = 0;
}

static void test_sampler_top_k_one_is_greedy(void **state)
{
	float l[] = {0.1f, 0.3f, 0.2f};
	struct sampler *s = with(3, set_hot_k1);
	for (int i = 0; i < 100; i++)
		assert_int_equal(sampler_sample(s, l, NULL, 0), 1);
	sampler_free(s);
}

static void counts(struct sampler *s, const float *l, int n, int draws, double *freq)
{
	memset(freq, 0, sizeof(double) * (size_t)n);
	for (int i = 0; i < draws; i++)
		freq[sampler_sample(s, l, NULL, 0)] += 1.0 / draws;
}

static void test_sampler_distribution(void **state)
{
	float l[] = {0.0f, logf(2.0f)}; /* p = 1/3, 2/3 */
	double f[2];
	struct sampler *s = with(2, set_hot);
	counts(s, l, 2, 30000, f);
	assert_true(fabs(f[0] - 1.0 / 3) < 0.015);
	sampler_free(s);
}

static void set_k2(struct sampler_params *p)
{
	set_hot(p);
	p->top_k = 2;
}

static void set_p06(struct sampler_params *p)
{
	set_hot(p);
	p->top_p = 0.6f;
}

static void set_p05(struct sampler_params *p)
{
	set_hot(p);
	p->top_p = 0.45f;
}

static void set_minp(struct sampler_params *p)
{
	set_hot(p);
	p->min_p = 0.5f;
}

static void test_sampler_truncation(void **state)
{
	/* p = 0.2, 0.5, 0.3 (ids 0, 1, 2), plus a 4th unlikely token */
	float l[] = {logf(0.2f), logf(0.5f), logf(0.3f), -20.0f};
	double f[4];
	struct sampler *s = with(4, set_k2); /* ids 1, 2 */
	counts(s, l, 4, 4000, f);
	assert_true(f[0] == 0 && f[3] == 0 && f[1] > 0.5 && f[2] > 0.3);
	sampler_free(s);
	s = with(4, set_p06); /* 0.5 + 0.3 >= 0.6: ids 1, 2 */
	counts(s, l, 4, 4000, f);
	assert_true(f[0] == 0 && f[3] == 0 && f[2] > 0.3);
	sampler_free(s);
	s = with(4, set_p05); /* 0.5 >= 0.45: id 1 only */
	counts(s, l, 4, 1000, f);
	assert_true(f[1] > 0.999);
	sampler_free(s);
	s = with(4, set_minp); /* p >= 0.25: ids 1, 2 */
	counts(s, l, 4, 4000, f);
	assert_true(f[0] == 0 && f[3] == 0 && f[2] > 0.3);
	sampler_free(s);
}

static void set_penalty(struct sampler_params *p)
{
	p->repeat_penalty = 1.1f;
	p->repeat_last_n = 2;
}

static void set_presence(struct sampler_params *p)
{
	p->presence_penalty = 0.5f;
	p->frequency_penalty = 0.2f;
	p->repeat_last_n = -1;
}

static void test_sampler_penalties(void **state)
{
	float pos[] = {2.0f, 1.9f, 0.0f}, neg[] = {-1.0f, -1.05f, -9.0f};
	int32_t h0[] = {0}, far[] = {0, 2, 2};
	struct sampler *s = with(3, set_penalty);
	assert_int_equal(sampler_sample(s, pos, h0, 1), 1);  /* 2 / 1.1 < 1.9 */
	assert_int_equal(sampler_sample(s, neg, h0, 1), 1);  /* -1 * 1.1 < -1.05 */
	assert_int_equal(sampler_sample(s, pos, far, 3), 0); /* 0 is outside the window */
	assert_true(pos[0] == 2.0f && neg[0] == -1.0f);      /* logits untouched */
	sampler_free(s);
	/* 2.0 - 0.5 - 2 * 0.2 = 1.1 and 1.9 - 0.5 - 0.2 = 1.2, both under 1.25 */
	int32_t h[] = {0, 1, 0};
	float l[] = {2.0f, 1.9f, 1.25f};
	s = with(3, set_presence);
	assert_int_equal(sampler_sample(s, l, h, 3), 2);
	sampler_free(s);
}

static void test_sampler_seed_reproducible(void **state)
{
	float l[64];
	for (int i = 0; i < 64; i++)
		l[i] = sinf((float)i);
	int32_t a[200], b[200];
	struct sampler_params p;
	sampler_params_default(&p);
	p.seed = 7;
	struct sampler *s = sampler_new(64);
	sampler_reset(s, &p);
	for (int i = 0; i < 200; i++)
		a[i] = sampler_sample(s, l, a, i);
	sampler_reset(s, &p);
	for (int i = 0; i < 200; i++)
		b[i] = sampler_sample(s, l, b, i);
	assert_memory_equal(a, b, sizeof a);
	p.seed = 8;
	sampler_reset(s, &p);
	for (int i = 0; i < 200; i++)
		b[i] = sampler_sample(s, l, b, i);
	assert_true(memcmp(a, b, sizeof a) != 0);
	sampler_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sampler_argmax_ties_to_lowest),
	    cmocka_unit_test(test_sampler_top_k_one_is_greedy),
	    cmocka_unit_test(test_sampler_distribution),
	    cmocka_unit_test(test_sampler_truncation),
	    cmocka_unit_test(test_sampler_penalties),
	    cmocka_unit_test(test_sampler_seed_reproducible),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
