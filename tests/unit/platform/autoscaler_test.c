/* autoscaler_test.c — the KPA driven by synthetic load curves on a fake
 * clock: scale from zero on the first request, the steady-state formula,
 * panic on a burst and its hold, gradual scale-down (at most half per tick),
 * scale to zero after the idle timeout, min/max bounds, the time-weighted
 * windows, scale-down delay, and the spec mapping. Instances are taken to
 * start instantly (ready = the last decision) unless a test says otherwise. */
#include "support/support.h"

#include "platform/autoscaler.h"

#include <math.h>
#include <string.h>

#define S KPA_NS_PER_S

struct sim {
	struct kpa k;
	int64_t now;
	int ready;
	struct kpa_decision d;
};

static void sim_init(struct sim *s, double target, double util, double idle_s)
{
	struct kpa_config c;
	kpa_config_default(&c);
	c.target = target;
	c.utilization = util;
	c.idle_timeout_ns = (int64_t)(idle_s * S);
	memset(s, 0, sizeof *s);
	assert_int_equal(kpa_init(&s->k, &c, 0), 0);
}

/* Holds in_flight until t_end (seconds), deciding every 2 s tick. */
static void hold(struct sim *s, int64_t in_flight, double t_end)
{
	kpa_observe(&s->k, s->now, in_flight);
	int64_t end = (int64_t)(t_end * S);
	while (s->now + KPA_TICK_NS <= end) {
		s->now += KPA_TICK_NS;
		kpa_decide(&s->k, s->now, s->ready, &s->d);
		s->ready = s->d.desired;
	}
	if (s->now < end)
		s->now = end;
}

static void decide_at(struct sim *s, double t)
{
	s->now = (int64_t)(t * S);
	kpa_decide(&s->k, s->now, s->ready, &s->d);
	s->ready = s->d.desired;
}

static void test_autoscaler_scale_from_zero_on_first_request(void **state)
{
	struct sim s;
	sim_init(&s, 80, 0.7, 2);
	hold(&s, 0, 30);
	assert_int_equal(s.d.desired, 0);
	assert_true(s.d.idle);
	/* the activator holds the first request: one instance, at once */
	s.now = 31 * S + 1;
	kpa_observe(&s.k, s.now, 1);
	kpa_decide(&s.k, s.now, 0, &s.d);
	assert_int_equal(s.d.desired, 1);
	assert_false(s.d.idle);
	kpa_release(&s.k);
}

static void test_autoscaler_steady_state_formula(void **state)
{
	struct sim s;
	/* Knative's docs example: target 10 at 100% utilization, 50 in flight: 5 */
	sim_init(&s, 10, 1.0, 900);
	hold(&s, 50, 120);
	assert_int_equal(s.d.desired, 5);
	assert_false(s.d.panic);
	assert_true(fabs(s.d.stable_concurrency - 50) < 1e-6);
	kpa_release(&s.k);
	/* at the 70% default: ceil(50 / 7) = 8 */
	sim_init(&s, 10, 0.7, 900);
	hold(&s, 50, 120);
	assert_int_equal(s.d.desired, 8);
	assert_true(fabs(s.d.target - 7.0) < 1e-9);
	kpa_release(&s.k);
}

static void test_autoscaler_panics_on_burst(void **state)
{
	struct sim s;
	sim_init(&s, 10, 0.7, 900);
	hold(&s, 5, 120);
	assert_int_equal(s.d.desired, 1);
	/* 100 requests at t=120; at t=122 the 6 s panic window averages
	 * (4 x 5 + 2 x 100) / 6 = 36.7 -> dppc 6 >= 2 x R: panic */
	hold(&s, 100, 122);
	assert_true(s.d.panic);
	assert_true(fabs(s.d.panic_concurrency - 220.0 / 6) < 1e-6);
	assert_int_equal(s.d.desired, 6);
	/* stable alone would say ceil((58 x 5 + 2 x 100) / 60 / 7) = 2 */
	assert_true(fabs(s.d.stable_concurrency - 490.0 / 60) < 1e-6);
	hold(&s, 100, 130);
	assert_true(s.d.panic);
	assert_int_equal(s.d.desired, 15); /* ceil(100 / 7) */
	kpa_release(&s.k);
}

static void test_autoscaler_panic_holds_then_scales_down_gradually(void **state)
{
	struct sim s;
	sim_init(&s, 10, 0.7, 900);
	hold(&s, 5, 120);
	hold(&s, 100, 130);
	int peak = s.d.desired;
	assert_int_equal(peak, 15);
	/* panic began at 122 and was not extended (at 124 dppc / R was 10 / 6):
	 * the count holds at its peak until a stable window later, 182 */
	hold(&s, 1, 180);
	assert_true(s.d.panic);
	assert_int_equal(s.d.desired, peak);
	hold(&s, 1, 182);
	assert_false(s.d.panic);
	int prev = s.ready, ticks = 0;
	while (s.now < 400 * S) {
		hold(&s, 1, (double)(s.now + KPA_TICK_NS) / S);
		assert_true(s.d.desired <= prev);
		assert_true(s.d.desired >= prev / 2); /* max-scale-down-rate 2 per tick */
		if (s.d.desired < prev)
			ticks++;
		prev = s.d.desired;
	}
	assert_false(s.d.panic);
	assert_int_equal(s.d.desired, 1); /* one request in flight keeps one */
	assert_true(ticks >= 3);          /* 15 -> 7 -> 3 -> 1 at the fastest */
	kpa_release(&s.k);
}

static void test_autoscaler_to_zero_after_idle(void **state)
{
	struct sim s;
	sim_init(&s, 10, 0.7, 2);
	hold(&s, 3, 10);
	assert_int_equal(s.d.desired, 1);
	kpa_observe(&s.k, 10 * S, 0);
	decide_at(&s, 11);
	assert_int_equal(s.d.desired, 1); /* warm until the idle timeout */
	decide_at(&s, 11.999);
	assert_int_equal(s.d.desired, 1);
	decide_at(&s, 12);
	assert_int_equal(s.d.desired, 0);
	assert_true(s.d.idle);
	/* even straight after a panic */
	hold(&s, 200, 20);
	assert_true(s.d.panic);
	kpa_observe(&s.k, s.now, 0);
	decide_at(&s, 21);
	assert_true(s.d.desired > 1);
	decide_at(&s, 22);
	assert_int_equal(s.d.desired, 0);
	assert_false(s.d.panic);
	kpa_release(&s.k);
}

static void test_autoscaler_min_max_bounds(void **state)
{
	struct sim s;
	sim_init(&s, 10, 0.7, 2);
	s.k.cfg.min_scale = 2;
	s.k.cfg.max_scale = 3;
	hold(&s, 0, 10);
	assert_int_equal(s.d.desired, 2);
	assert_true(s.d.idle);
	hold(&s, 10000, 30);
	assert_int_equal(s.d.desired, 3);
	kpa_release(&s.k);
}

static void test_autoscaler_time_weighted_windows(void **state)
{
	struct kpa k;
	struct kpa_config c;
	kpa_config_default(&c);
	assert_int_equal(kpa_init(&k, &c, 0), 0);
	kpa_observe(&k, 0, 0);
	kpa_observe(&k, 3 * S, 10);
	kpa_observe(&k, 3 * S + S / 2, 0);
	/* 10 requests for half a second of a 6 s window */
	assert_true(fabs(kpa_average(&k, 6 * S, 6 * S) - 5.0 / 6) < 1e-9);
	/* a window reaching before the first observation only counts from it */
	assert_true(fabs(kpa_average(&k, 6 * S, 60 * S) - 5.0 / 6) < 1e-9);
	/* a level held across bucket edges */
	kpa_observe(&k, 6 * S + S / 4, 4);
	assert_true(fabs(kpa_average(&k, 8 * S, 2 * S) - 4.0 * 1.75 / 2) < 1e-9);
	/* long after, a level held for hours fills the whole window */
	assert_true(fabs(kpa_average(&k, 5 * 3600 * S, 60 * S) - 4.0) < 1e-9);
	/* the instant a request arrives with no history, the level counts */
	struct kpa k2;
	assert_int_equal(kpa_init(&k2, &c, 100 * S), 0);
	kpa_observe(&k2, 100 * S, 3);
	assert_true(fabs(kpa_average(&k2, 100 * S, 6 * S) - 3.0) < 1e-9);
	kpa_release(&k2);
	kpa_release(&k);
}

static void test_autoscaler_scale_down_delay(void **state)
{
	struct sim s;
	sim_init(&s, 10, 1.0, 900);
	s.k.cfg.scale_down_delay_ns = 30 * S;
	s.k.cfg.stable_window_ns = 60 * S;
	hold(&s, 40, 70);
	assert_int_equal(s.d.desired, 4);
	hold(&s, 10, 200);
	assert_int_equal(s.d.desired, 1);
	kpa_release(&s.k);
	sim_init(&s, 10, 1.0, 900);
	hold(&s, 40, 70);
	kpa_observe(&s.k, s.now, 10);
	/* without the delay the count falls once the window forgets the 40s */
	struct sim t;
	sim_init(&t, 10, 1.0, 900);
	t.k.cfg.scale_down_delay_ns = 30 * S;
	hold(&t, 40, 70);
	hold(&t, 10, 140);
	int with_delay_at_140 = t.d.desired;
	hold(&s, 10, 140);
	assert_true(with_delay_at_140 >= s.d.desired);
	kpa_release(&s.k);
	kpa_release(&t.k);
}

static void test_autoscaler_config_from_spec(void **state)
{
	struct spec sp;
	spec_init(&sp);
	sp.concurrency = 4;
	sp.scaling.target = 3;
	sp.idle_timeout_s = 2;
	sp.min_instances = 1;
	sp.max_instances = 7;
	struct kpa_config c;
	kpa_config_from_spec(&c, &sp);
	assert_true(c.target == 3.0);
	assert_true(fabs(c.utilization - 0.7) < 1e-12);
	assert_int_equal(c.stable_window_ns, 60 * S);
	assert_true(c.panic_threshold == 2.0);
	assert_int_equal(c.idle_timeout_ns, 2 * S);
	assert_int_equal(c.min_scale, 1);
	assert_int_equal(c.max_scale, 7);
	sp.scaling.target = 0;
	kpa_config_from_spec(&c, &sp);
	assert_true(c.target == 4.0);
	spec_release(&sp);
	/* a different window restarts the observations but keeps the level */
	struct kpa k;
	kpa_config_default(&c);
	assert_int_equal(kpa_init(&k, &c, 0), 0);
	kpa_observe(&k, 0, 5);
	c.stable_window_ns = 10 * S;
	assert_int_equal(kpa_config_set(&k, &c, 20 * S), 0);
	assert_int_equal(k.n_buckets, 11);
	assert_true(fabs(kpa_average(&k, 25 * S, 10 * S) - 5.0) < 1e-9);
	kpa_release(&k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_autoscaler_scale_from_zero_on_first_request),
	    cmocka_unit_test(test_autoscaler_steady_state_formula),
	    cmocka_unit_test(test_autoscaler_panics_on_burst),
	    cmocka_unit_test(test_autoscaler_panic_holds_then_scales_down_gradually),
	    cmocka_unit_test(test_autoscaler_to_zero_after_idle),
	    cmocka_unit_test(test_autoscaler_min_max_bounds),
	    cmocka_unit_test(test_autoscaler_time_weighted_windows),
	    cmocka_unit_test(test_autoscaler_scale_down_delay),
	    cmocka_unit_test(test_autoscaler_config_from_spec),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
