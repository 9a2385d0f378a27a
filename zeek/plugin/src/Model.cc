#include "Model.h"

namespace mqtt_ml {

Model::~Model() { Close(); }

void Model::Close() {
    mqtt_ml_model_close(handle_);
    handle_ = nullptr;
    threshold_ = -1.0;
}

bool Model::Open(const std::string& path, const std::string& backend, std::string* err) {
    char buf[1024] = "";
    MqttMlModel* m = mqtt_ml_model_open(path.c_str(), backend.empty() ? nullptr : backend.c_str(),
                                        buf, sizeof buf);
    if ( ! m ) {
        if ( err )
            *err = buf;
        return false;
    }
    Close();
    handle_ = m;
    threshold_ = mqtt_ml_model_threshold(handle_, nullptr);
    return true;
}

uint32_t Model::Width() const { return handle_ ? mqtt_ml_model_width(handle_) : 0; }

double Model::SelectThreshold(const std::string& name) {
    if ( ! handle_ )
        return -1.0;
    float t = mqtt_ml_model_threshold(handle_, name.empty() ? nullptr : name.c_str());
    if ( t < 0 )
        return -1.0;
    threshold_ = t;
    return t;
}

Result Model::Score(const std::vector<double>& features) const {
    Result r;
    r.threshold = threshold_;
    if ( ! handle_ )
        return r;
    std::vector<float> v(features.begin(), features.end());
    uint32_t idx[MQTT_ML_TOP];
    float errs[MQTT_ML_TOP];
    float s = mqtt_ml_model_score(handle_, v.data(), v.size(), idx, errs);
    if ( s < 0 )
        return r;
    r.score = s;
    r.anomaly = s > threshold_;
    for ( int k = 0; k < MQTT_ML_TOP; ++k ) {
        const char* name = mqtt_ml_feature_name(idx[k]);
        r.top_names.emplace_back(name ? name : "?");
        r.top_errors.push_back(errs[k]);
    }
    return r;
}

} // namespace mqtt_ml
