/* activator_test.c — the activator's arithmetic on a fake clock: Cloud
 * Run's hold window max(10 s, 3.5 x average start), what becomes of a held
 * request as time passes (hold -> 429, timeout -> 504, the timeout first),
 * the instance pick under containerConcurrency and the capacity the held
 * requests need. */
#include "support/support.h"

#include "platform/gateway.h"

#define MS 1000000LL
#define S  1000000000LL

static void test_activator_hold_window(void **state)
{
	assert_int_equal(gateway_hold_ms(0, 10000), 10000);       /* no start seen yet */
	assert_int_equal(gateway_hold_ms(5 * MS, 10000), 10000);  /* 17.5 ms < 10 s */
	assert_int_equal(gateway_hold_ms(2 * S, 10000), 10000);   /* 7 s < 10 s */
	assert_int_equal(gateway_hold_ms(60 * S, 10000), 210000); /* 3.5 x 60 s */
	assert_int_equal(gateway_hold_ms(19 * S, 10000), 66500);  /* §1.9: ~66 s */
	assert_int_equal(gateway_hold_ms(1 * MS + 1, 0), 4);      /* rounded up */
	assert_int_equal(gateway_hold_ms(2 * S, 300), 7000);
}

static void test_activator_held_verdicts_over_time(void **state)
{
	/* arrival at t=100 s, hold 10 s, timeout 300 s */
	int64_t t0 = 100 * S, hold = t0 + 10 * S, deadline = t0 + 300 * S;
	int64_t now;
	for (now = t0; now < hold; now += 500 * MS)
		assert_int_equal(gateway_held_verdict(now, hold, deadline), 0);
	assert_int_equal(gateway_held_verdict(hold, hold, deadline), 429);
	/* a 5 s timeout ends the wait first, with 504 */
	deadline = t0 + 5 * S;
	assert_int_equal(gateway_held_verdict(t0 + 4999 * MS, hold, deadline), 0);
	assert_int_equal(gateway_held_verdict(t0 + 5 * S, hold, deadline), 504);
	assert_int_equal(gateway_held_verdict(t0 + 20 * S, hold, deadline), 504);
}

static void test_activator_pick_under_concurrency(void **state)
{
	bool ready[4] = {true, true, false, true};
	int active[4] = {2, 1, 0, 1};
	assert_int_equal(gateway_pick(ready, active, 4, 2), 1); /* fewest, lowest index */
	active[1] = 2;
	active[3] = 2;
	assert_int_equal(gateway_pick(ready, active, 4, 2), -1); /* the starting one has no say */
	assert_int_equal(gateway_pick(ready, active, 4, 0), 0);  /* no limit */
	assert_int_equal(gateway_pick(ready, active, 0, 1), -1);
	ready[2] = true;
	assert_int_equal(gateway_pick(ready, active, 4, 2), 2);
}

static void test_activator_capacity_need(void **state)
{
	assert_int_equal(gateway_capacity_need(0, 1), 0);
	assert_int_equal(gateway_capacity_need(1, 1), 1);
	assert_int_equal(gateway_capacity_need(3, 1), 3);
	assert_int_equal(gateway_capacity_need(80, 80), 1);
	assert_int_equal(gateway_capacity_need(81, 80), 2);
	assert_int_equal(gateway_capacity_need(1000, 0), 1); /* unlimited */
	assert_int_equal(gateway_capacity_need(INT64_MAX / 2, 1), INT32_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_activator_hold_window),
	    cmocka_unit_test(test_activator_held_verdicts_over_time),
	    cmocka_unit_test(test_activator_pick_under_concurrency),
	    cmocka_unit_test(test_activator_capacity_need),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
