#pragma once

#include <zeek/plugin/Plugin.h>

#include "Model.h"

namespace plugin::MQTT_ML_Scoring {

class Plugin : public zeek::plugin::Plugin {
public:
    // The one model the BiFs use. Zeek runs scripts on one thread, so the BiFs need no locking.
    mqtt_ml::Model model;

protected:
    zeek::plugin::Configuration Configure() override;
    void Done() override;
};

extern Plugin plugin;

} // namespace plugin::MQTT_ML_Scoring
