// The model behind the BiFs: a thin C++ owner of one libmqtt_ml.so handle (include/mqtt_ml.h).
// No Zeek types here, so it builds and is tested without Zeek (tests/capi/run.sh).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mqtt_ml.h"

namespace mqtt_ml {

struct Result {
    // Mean squared reconstruction error; -1 when scoring failed (no model, wrong width, ...).
    double score = -1.0;
    // The threshold in force when it was scored, and score > threshold.
    double threshold = -1.0;
    bool anomaly = false;
    // The features with the largest squared error, largest first (empty when scoring failed).
    std::vector<std::string> top_names;
    std::vector<double> top_errors;
};

class Model {
public:
    Model() = default;
    ~Model();
    Model(const Model&) = delete;
    Model& operator=(const Model&) = delete;

    // Opens `path` with `backend` ("tflite", "native"; "" means native), replacing any model
    // already open, and makes the model's default threshold the one in force. On failure keeps
    // the previous model, sets *err and returns false.
    bool Open(const std::string& path, const std::string& backend, std::string* err);

    bool IsOpen() const { return handle_ != nullptr; }

    // Width of the open model (0 when none is open).
    uint32_t Width() const;

    // Resolves `name` ("p95", "p99", "p999", a number, or "" for the model's default) and makes
    // it the threshold in force. Returns it, or -1 (leaving the threshold in force unchanged)
    // when no model is open or the name is unknown.
    double SelectThreshold(const std::string& name);

    double Threshold() const { return threshold_; }

    // Scores one raw feature vector (schema order, transformed, unscaled).
    Result Score(const std::vector<double>& features) const;

    void Close();

private:
    MqttMlModel* handle_ = nullptr;
    double threshold_ = -1.0;
};

} // namespace mqtt_ml
