#include "Plugin.h"

namespace plugin::MQTT_ML_Scoring {
Plugin plugin;
}

using namespace plugin::MQTT_ML_Scoring;

zeek::plugin::Configuration Plugin::Configure() {
    zeek::plugin::Configuration config;
    config.name = "MQTT_ML::Scoring";
    config.description = "Scores MQTT messages with the mqtt-ml autoencoder (libmqtt_ml.so)";
    config.version.major = 0;
    config.version.minor = 1;
    config.version.patch = 0;
    return config;
}

void Plugin::Done() {
    model.Close();
    zeek::plugin::Plugin::Done();
}
