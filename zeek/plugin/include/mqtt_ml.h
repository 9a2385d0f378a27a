/*
 * mqtt_ml.h: the C ABI of libmqtt_ml.so (src/capi.rs) for hosts other than Suricata.
 *
 * A host builds each message's feature vector itself: the schema's features (see
 * mqtt_ml_feature_name), in schema order, transformed as the schema says (log1p where it says
 * log1p) but NOT scaled. mqtt_ml_model_score applies the model metadata's min-max scaling,
 * reconstructs the vector with the autoencoder and returns the mean squared error: the same
 * number the Suricata plugin logs as `score` for the same vector.
 *
 * Threads: a handle holds one scorer behind a mutex; it may be shared, but calls then take turns.
 * Open one handle per thread for speed.
 *
 * Errors never abort the host: NULL pointers and wrong lengths are checked, and no panic crosses
 * the boundary. Strings are NUL-terminated; paths are bytes (not necessarily UTF-8).
 */
#ifndef MQTT_ML_H
#define MQTT_ML_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An open model. Opaque. */
typedef struct MqttMlModel MqttMlModel;

/* How many entries mqtt_ml_model_score writes to out_top_idx / out_top_err. */
#define MQTT_ML_TOP 3

/*
 * Opens the model at `path` (a .tflite file; its metadata is the .json beside it, e.g.
 * models/mqtt-ml.tflite + models/mqtt-ml.json) with `backend`: "tflite" (the TensorFlow Lite C
 * library, found through $MQTT_ML_TFLITE_LIB, the system, then the mqtt-ml cache), "native" (the
 * built-in forward pass) or NULL (native). Checks the metadata's feature schema and the model's
 * width against the compiled-in schema.
 * Returns NULL on failure and writes a one-line, NUL-terminated message into `err` (at most
 * `err_len` bytes, cut if longer; `err` may be NULL).
 */
MqttMlModel *mqtt_ml_model_open(const char *path, const char *backend, char *err, size_t err_len);

/* The model's input width (28 for schema v1); 0 if m is NULL. */
uint32_t mqtt_ml_model_width(const MqttMlModel *m);

/* The feature schema version the model was trained on (1); 0 if m is NULL. */
uint32_t mqtt_ml_model_schema_version(const MqttMlModel *m);

/*
 * A threshold from the metadata: "p95", "p99", "p999", a non-negative number written as a string
 * (returned as is), or NULL for the model's default. -1 if m is NULL or name is none of these.
 */
float mqtt_ml_model_threshold(const MqttMlModel *m, const char *name);

/*
 * Scores one vector of `n` floats (n must equal the width). Returns the score (>= 0), or -1 on
 * error (NULL m or features, wrong n, inference failure). If not NULL, out_top_idx and
 * out_top_err receive the MQTT_ML_TOP features with the largest squared error between the scaled
 * vector and its reconstruction (feature index, error), largest first.
 */
float mqtt_ml_model_score(const MqttMlModel *m, const float *features, size_t n,
                          uint32_t *out_top_idx, float *out_top_err);

/* The number of features in the compiled-in schema (28). */
uint32_t mqtt_ml_feature_count(void);

/* The name of feature i (a static string; never free it), or NULL if i >= the feature count. */
const char *mqtt_ml_feature_name(uint32_t i);

/* Closes a handle (NULL is ignored). Do not use it afterwards. */
void mqtt_ml_model_close(MqttMlModel *m);

#ifdef __cplusplus
}
#endif

#endif /* MQTT_ML_H */
