/*
 * Tests of libmqtt_ml.so's C ABI (zeek/plugin/include/mqtt_ml.h), through the header, as a C
 * host sees it.
 *
 *   test_capi MODEL.tflite REFERENCE.txt
 *
 * REFERENCE.txt holds what the Suricata plugin logged for messages of a capture, one per line:
 *   BACKEND SCORE THRESHOLD TOP0 TOP1 TOP2 F0 ... F11
 * (BACKEND: the plugin's backend, tflite or native; TOPk: feature indices of its top_features;
 * Fk: the logged feature vector). Each vector is scored through the C ABI with the same backend
 * and must give the plugin's score within 1e-6 (relative) and the same top features.
 *
 * Prints one line per failed check and a closing line "capi: N passed, M failed"; exits 1 if any
 * check failed.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt_ml.h"

/* The feature schema version the crate defines (run.sh reads it from `mqtt-ml schema`). */
static uint32_t expected_schema;

#define WIDTH 11
#define REL_TOL 1e-6

static int passed, failed;

static void check(int ok, const char *what)
{
    if (ok) {
        passed++;
    } else {
        failed++;
        printf("FAIL: %s\n", what);
    }
}

static double rel_diff(double a, double b)
{
    double scale = fmax(fabs(a), fabs(b));
    return scale == 0.0 ? 0.0 : fabs(a - b) / scale;
}

static void test_basics(const char *model, const char *backend)
{
    char err[512];
    char what[256];
    MqttMlModel *m = mqtt_ml_model_open(model, backend, err, sizeof err);
    snprintf(what, sizeof what, "open %s with backend %s", model, backend ? backend : "(NULL)");
    check(m != NULL, what);
    if (m == NULL) {
        printf("  error: %s\n", err);
        return;
    }
    check(mqtt_ml_model_width(m) == WIDTH, "width is 11");
    check(mqtt_ml_model_schema_version(m) == expected_schema,
          "schema version is the crate's (mqtt-ml schema)");
    check(mqtt_ml_feature_count() == mqtt_ml_model_width(m), "feature count equals width");

    float p95 = mqtt_ml_model_threshold(m, "p95");
    float p99 = mqtt_ml_model_threshold(m, "p99");
    float p999 = mqtt_ml_model_threshold(m, "p999");
    float dflt = mqtt_ml_model_threshold(m, NULL);
    check(p95 > 0 && p95 <= p99 && p99 <= p999, "thresholds p95 <= p99 <= p999, all positive");
    check(dflt == p95 || dflt == p99 || dflt == p999, "default threshold is one of them");
    check(mqtt_ml_model_threshold(m, "p50") == -1.0f, "unknown threshold name gives -1");
    check(mqtt_ml_model_threshold(m, "0.25") == 0.25f, "numeric threshold is returned as is");
    check(mqtt_ml_model_threshold(NULL, "p99") == -1.0f, "threshold of NULL model gives -1");

    float v[WIDTH + 1];
    for (int i = 0; i <= WIDTH; i++)
        v[i] = 0.5f;
    uint32_t idx[MQTT_ML_TOP];
    float terr[MQTT_ML_TOP];
    float s = mqtt_ml_model_score(m, v, WIDTH, idx, terr);
    check(s >= 0 && isfinite(s), "score of a plain vector is finite and >= 0");
    check(idx[0] < WIDTH && idx[1] < WIDTH && idx[2] < WIDTH, "top indices are feature indices");
    check(terr[0] >= terr[1] && terr[1] >= terr[2] && terr[2] >= 0, "top errors are descending");
    check(mqtt_ml_model_score(m, v, WIDTH, NULL, NULL) == s, "top outputs are optional");
    check(mqtt_ml_model_score(m, v, WIDTH - 1, idx, terr) == -1.0f, "n = WIDTH - 1 gives -1");
    check(mqtt_ml_model_score(m, v, WIDTH + 1, idx, terr) == -1.0f, "n = WIDTH + 1 gives -1");
    check(mqtt_ml_model_score(m, v, 0, idx, terr) == -1.0f, "n = 0 gives -1");
    check(mqtt_ml_model_score(m, NULL, WIDTH, idx, terr) == -1.0f, "NULL features give -1");
    check(mqtt_ml_model_score(NULL, v, WIDTH, idx, terr) == -1.0f, "NULL model gives -1");
    v[3] = NAN;
    float snan = mqtt_ml_model_score(m, v, WIDTH, NULL, NULL);
    check(snan >= 0 && isfinite(snan), "a NaN feature still gives a finite score");
    mqtt_ml_model_close(m);
}

static void test_static_and_errors(void)
{
    static const char *expected[WIDTH] = {
        "msgtype", "direction", "malformed", "refused", "flow_msg_rate", "flow_byte_rate",
        "flow_failed_auth", "qos2_pending_age", "src_failed_auth",
        "src_refused_secrets", "src_open",
    };
    int names_ok = 1;
    for (uint32_t i = 0; i < WIDTH; i++) {
        const char *n = mqtt_ml_feature_name(i);
        if (n == NULL || strcmp(n, expected[i]) != 0 || n != mqtt_ml_feature_name(i))
            names_ok = 0;
    }
    check(names_ok, "feature names in schema order, static");
    check(mqtt_ml_feature_name(WIDTH) == NULL, "feature name past the end is NULL");

    char err[512] = "unchanged";
    MqttMlModel *m = mqtt_ml_model_open("/nonexistent/dir/none.tflite", NULL, err, sizeof err);
    check(m == NULL, "missing model file gives NULL");
    check(strstr(err, "/nonexistent/dir/none.tflite") != NULL && strchr(err, '\n') == NULL,
          "missing model file: one-line message naming the file");
    check(mqtt_ml_model_open("/nonexistent", NULL, NULL, 0) == NULL, "NULL error buffer is fine");
    char tiny[6];
    memset(tiny, 'x', sizeof tiny);
    check(mqtt_ml_model_open("/nonexistent", NULL, tiny, sizeof tiny) == NULL
              && tiny[5] == '\0' && strlen(tiny) == 5,
          "short error buffer: message cut and NUL-terminated");
    check(mqtt_ml_model_open(NULL, NULL, err, sizeof err) == NULL && strstr(err, "NULL") != NULL,
          "NULL path gives NULL and a message");
    mqtt_ml_model_close(NULL);
    passed++; /* closing NULL did not crash */
    check(mqtt_ml_model_width(NULL) == 0 && mqtt_ml_model_schema_version(NULL) == 0,
          "width / version of NULL model are 0");
}

static void test_bad_backend(const char *model)
{
    char err[512] = "";
    check(mqtt_ml_model_open(model, "onnx", err, sizeof err) == NULL
              && strstr(err, "onnx") != NULL,
          "unknown backend gives NULL and names it");
}

struct backend_stats {
    const char *name;
    MqttMlModel *m;
    int rows;
    int score_fail;
    int top_fail;
    double max_rel;
    double max_abs;
    int thr_ok;
};

static int compare_with_plugin(const char *model, const char *ref)
{
    FILE *f = fopen(ref, "r");
    if (f == NULL) {
        printf("FAIL: cannot read %s\n", ref);
        failed++;
        return 0;
    }
    struct backend_stats st[2] = {{.name = "tflite", .thr_ok = 1}, {.name = "native", .thr_ok = 1}};
    char err[512];
    for (int b = 0; b < 2; b++) {
        st[b].m = mqtt_ml_model_open(model, st[b].name, err, sizeof err);
        if (st[b].m == NULL) {
            printf("FAIL: open with backend %s: %s\n", st[b].name, err);
            failed++;
        }
    }
    char backend[32];
    double score, thr;
    unsigned top[MQTT_ML_TOP];
    int line = 0;
    int bad_lines = 0;
    while (fscanf(f, "%31s %lf %lf %u %u %u", backend, &score, &thr, &top[0], &top[1], &top[2])
           == 6) {
        line++;
        float v[WIDTH];
        int ok = 1;
        for (int i = 0; i < WIDTH && ok; i++) {
            double x;
            ok = fscanf(f, "%lf", &x) == 1;
            v[i] = (float)x;
        }
        struct backend_stats *s = strcmp(backend, "tflite") == 0   ? &st[0]
                                  : strcmp(backend, "native") == 0 ? &st[1]
                                                                   : NULL;
        if (!ok || s == NULL) {
            bad_lines++;
            break;
        }
        if (s->m == NULL)
            continue;
        s->rows++;
        uint32_t idx[MQTT_ML_TOP];
        float terr[MQTT_ML_TOP];
        float got = mqtt_ml_model_score(s->m, v, WIDTH, idx, terr);
        double rd = rel_diff(got, (float)score);
        double ad = fabs(got - (float)score);
        if (rd > s->max_rel)
            s->max_rel = rd;
        if (ad > s->max_abs)
            s->max_abs = ad;
        if (got < 0 || rd > REL_TOL) {
            s->score_fail++;
            if (s->score_fail <= 5)
                printf("  %s line %d: C ABI score %.9g, plugin %.9g\n", s->name, line, got, score);
        }
        if (idx[0] != top[0] || idx[1] != top[1] || idx[2] != top[2])
            s->top_fail++;
        if ((float)thr != mqtt_ml_model_threshold(s->m, NULL))
            s->thr_ok = 0;
    }
    fclose(f);
    check(bad_lines == 0, "reference file parses");
    int total = 0;
    for (int b = 0; b < 2; b++) {
        char what[160];
        total += st[b].rows;
        snprintf(what, sizeof what, "%s: reference rows present", st[b].name);
        check(st[b].rows > 0, what);
        snprintf(what, sizeof what, "%s: %d scores equal the plugin's within %g (relative)",
                 st[b].name, st[b].rows, REL_TOL);
        check(st[b].rows > 0 && st[b].score_fail == 0, what);
        snprintf(what, sizeof what, "%s: top-3 features equal the plugin's", st[b].name);
        check(st[b].rows > 0 && st[b].top_fail == 0, what);
        snprintf(what, sizeof what, "%s: default threshold equals the plugin's", st[b].name);
        check(st[b].rows > 0 && st[b].thr_ok, what);
        printf("capi: %s backend: %d vectors, max relative difference %.3g, max absolute %.3g\n",
               st[b].name, st[b].rows, st[b].max_rel, st[b].max_abs);
        mqtt_ml_model_close(st[b].m);
    }
    return total;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s MODEL.tflite REFERENCE.txt SCHEMA_VERSION\n", argv[0]);
        return 2;
    }
    expected_schema = (uint32_t)strtoul(argv[3], NULL, 10);
    const char *model = argv[1];
    test_static_and_errors();
    test_bad_backend(model);
    test_basics(model, NULL);
    test_basics(model, "native");
    test_basics(model, "tflite");
    compare_with_plugin(model, argv[2]);
    printf("capi: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
