/* The gap of DESIGN.md and its paired bootstrap interval (rl_gap_score):
 * the point estimate against the formula, intervals that can be worked out
 * by hand, determinism, narrowing with more seeds, and refusals. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cipherl/rl.h"
#include "cli_util.h"

static void test_point_estimate(void **state)
{
    (void)state;
    const double plain[] = {500, 300, 400}, ours[] = {450, 250, 380}, rr = 20;
    rl_gap g;
    assert_int_equal(rl_gap_score(plain, ours, 3, rr, 0.95, 1000, 1, &g), CL_OK);
    double mp = 400, m = 360;
    assert_true(fabs(g.normalized - (m - rr) / (mp - rr)) < 1e-15);
    assert_true(fabs(g.gap - (1 - (m - rr) / (mp - rr))) < 1e-15);
    assert_true(g.lo <= g.gap && g.gap <= g.hi);
    /* negative returns (Acrobot-like): R_random below both */
    const double p2[] = {-90, -95}, o2[] = {-130, -140};
    assert_int_equal(rl_gap_score(p2, o2, 2, -500, 0.95, 1000, 1, &g), CL_OK);
    assert_true(fabs(g.gap - (1 - (-135.0 + 500) / (-92.5 + 500))) < 1e-12);
}

/* Equal seeds: every draw is the estimate. */
static void test_no_spread(void **state)
{
    (void)state;
    const double plain[] = {100, 100, 100, 100}, ours[] = {90, 90, 90, 90};
    rl_gap g;
    assert_int_equal(rl_gap_score(plain, ours, 4, 0, 0.95, 500, 7, &g), CL_OK);
    assert_true(fabs(g.gap - 0.1) < 1e-12);
    assert_true(fabs(g.lo - 0.1) < 1e-12 && fabs(g.hi - 0.1) < 1e-12);
}

/* Two seeds: the draws are {1,1} (1/4), {1,2} (1/2), {2,2} (1/4), so the
 * central 95% runs from the smallest of the three gaps to the largest, and
 * the central 40% sits on the middle one. */
static void test_two_seeds_by_hand(void **state)
{
    (void)state;
    const double plain[] = {200, 100}, ours[] = {190, 40}, rr = 0;
    double g11 = 1 - 190.0 / 200, g22 = 1 - 40.0 / 100, g12 = 1 - 115.0 / 150;
    double lo = fmin(g11, fmin(g22, g12)), hi = fmax(g11, fmax(g22, g12));
    rl_gap g;
    assert_int_equal(rl_gap_score(plain, ours, 2, rr, 0.95, 20000, 3, &g), CL_OK);
    assert_true(fabs(g.lo - lo) < 1e-12);
    assert_true(fabs(g.hi - hi) < 1e-12);
    assert_true(fabs(g.gap - g12) < 1e-12); /* the means are the {1,2} draw */
    assert_int_equal(rl_gap_score(plain, ours, 2, rr, 0.4, 20000, 3, &g), CL_OK);
    assert_true(fabs(g.lo - g12) < 1e-12 && fabs(g.hi - g12) < 1e-12);
}

/* Same inputs, same interval; four times the seeds (the same returns
 * repeated), a narrower one. */
static void test_deterministic_and_narrows(void **state)
{
    (void)state;
    const double plain[] = {500, 210, 500, 320, 500, 500, 200, 360, 500, 500};
    const double ours[] = {400, 300, 350, 420, 380, 300, 410, 330, 390, 380};
    double p4[40], o4[40];
    for (int i = 0; i < 40; i++) {
        p4[i] = plain[i % 10];
        o4[i] = ours[i % 10];
    }
    rl_gap a, b, c;
    assert_int_equal(rl_gap_score(plain, ours, 10, 22, 0.95, 4000, 11, &a), CL_OK);
    assert_int_equal(rl_gap_score(plain, ours, 10, 22, 0.95, 4000, 11, &b), CL_OK);
    assert_true(a.lo == b.lo && a.hi == b.hi);
    assert_int_equal(rl_gap_score(p4, o4, 40, 22, 0.95, 4000, 11, &c), CL_OK);
    assert_true(fabs(c.gap - a.gap) < 1e-12);
    assert_true(c.hi - c.lo < 0.7 * (a.hi - a.lo));
    assert_true(a.lo < a.gap && a.gap < a.hi);
}

/* A plain agent no better than random: no gap. */
static void test_undefined(void **state)
{
    (void)state;
    const double plain[] = {10, 30}, ours[] = {5, 6};
    rl_gap g;
    assert_int_equal(rl_gap_score(plain, ours, 2, 20, 0.95, 1000, 1, &g), CL_OK);
    assert_true(isnan(g.normalized));
    assert_true(isinf(g.gap) && g.gap > 0);
    assert_true(isinf(g.hi)); /* the draws {1,1} have no gap */
}

static void test_refusals(void **state)
{
    (void)state;
    const double p[] = {1, 2}, o[] = {1, NAN};
    rl_gap g;
    assert_int_equal(rl_gap_score(p, p, 0, 0, 0.95, 10, 1, &g), CL_ERR_INVALID);
    assert_int_equal(rl_gap_score(p, p, 2, 0, 1.0, 10, 1, &g), CL_ERR_INVALID);
    assert_int_equal(rl_gap_score(p, p, 2, 0, 0.0, 10, 1, &g), CL_ERR_INVALID);
    assert_int_equal(rl_gap_score(p, p, 2, 0, 0.95, 0, 1, &g), CL_ERR_INVALID);
    assert_int_equal(rl_gap_score(p, o, 2, 0, 0.95, 10, 1, &g), CL_ERR_INVALID);
    assert_int_equal(rl_gap_score(p, p, 2, INFINITY, 0.95, 10, 1, &g), CL_ERR_INVALID);
    assert_int_equal(rl_gap_score(NULL, p, 2, 0, 0.95, 10, 1, &g), CL_ERR_INVALID);
    assert_int_equal(rl_gap_score(p, p, 2, 0, 0.95, 10, 1, NULL), CL_ERR_INVALID);
}

/* cipherl experiment score: the library's gap, an interval around it, refusals */
static void test_cli_score(void **state)
{
    (void)state;
    char dir[] = "/tmp/cipherl_score_XXXXXX";
    assert_int_equal(tmpdir_make(dir), 0);
    char out[256];
    snprintf(out, sizeof out, "%s/out", dir);
    assert_int_equal(run_cli("experiment score --random -499.61 --plain -73.68,-68.27,-100.46 "
                             "--agent -90,-120,-300 --json", out),
                     0);
    char *j = read_whole(out, NULL);
    assert_non_null(j);
    const char *g = strstr(j, "\"gap\": "), *ci = strstr(j, "\"gap_ci95\": [");
    assert_non_null(g);
    assert_non_null(ci);
    double gap = strtod(g + 7, NULL);
    char *end;
    double lo = strtod(ci + 13, &end);
    assert_true(*end == ',');
    double hi = strtod(end + 1, NULL);
    const double p[] = {-73.68, -68.27, -100.46}, a[] = {-90, -120, -300};
    rl_gap want;
    assert_int_equal(rl_gap_score(p, a, 3, -499.61, 0.95, 1000, 1, &want), CL_OK);
    assert_true(fabs(gap - want.gap) < 1e-12);
    assert_true(lo <= gap && gap <= hi && lo < hi);
    free(j);
    assert_int_equal(run_cli("experiment score --random 0 --plain 1,2 --agent 3", out), 2);
    assert_int_equal(run_cli("experiment score --random 0 --plain 1,,2 --agent 3,4", out), 2);
    assert_int_equal(run_cli("experiment score --random x --plain 1 --agent 3", out), 2);
    assert_int_equal(run_cli("experiment score --plain 1 --agent 3", out), 2);
    assert_int_equal(run_cli("experiment score --random 5 --plain 1,2 --agent 3,4", out), 0);
    j = read_whole(out, NULL);
    assert_non_null(strstr(j, "undefined"));
    free(j);
    assert_int_equal(tmpdir_remove(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_point_estimate),
        cmocka_unit_test(test_no_spread),
        cmocka_unit_test(test_two_seeds_by_hand),
        cmocka_unit_test(test_deterministic_and_narrows),
        cmocka_unit_test(test_undefined),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_cli_score),
    };
    return cmocka_run_group_tests_name("score", tests, NULL, NULL);
}
