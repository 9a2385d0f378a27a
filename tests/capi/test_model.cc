// Tests the Zeek plugin's Zeek-free C++ layer (zeek/plugin/src/Model.{h,cc}) against
// libmqtt_ml.so: open errors, threshold selection, and the reference vectors of the Suricata
// plugin (same file as test_capi.c) scored through it, with anomaly = score > threshold.
//   test_model MODEL.tflite REFERENCE.txt
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "Model.h"

static int passed, failed;

static void check(bool ok, const std::string& what) {
    if ( ok )
        passed++;
    else {
        failed++;
        std::printf("FAIL: %s\n", what.c_str());
    }
}

// The feature schema's width (src/features/schema.rs).
static const size_t kWidth = 11;

int main(int argc, char** argv) {
    if ( argc != 3 ) {
        std::fprintf(stderr, "usage: %s MODEL.tflite REFERENCE.txt\n", argv[0]);
        return 2;
    }
    mqtt_ml::Model m;
    std::string err;
    check(! m.IsOpen() && m.Score(std::vector<double>(kWidth, 0.0)).score == -1.0,
          "no model: score -1");
    check(! m.Open("/nonexistent/x.tflite", "", &err) && err.find("/nonexistent/x.tflite") != std::string::npos,
          "missing model: false and a message");
    check(! m.Open(argv[1], "onnx", &err) && ! m.IsOpen(), "unknown backend refused");
    for ( const char* backend : {"native", "tflite"} ) {
        mqtt_ml::Model mb;
        check(mb.Open(argv[1], backend, &err), std::string("open with ") + backend + ": " + err);
        check(mb.Width() == kWidth, "width is the schema's");
        double dflt = mb.Threshold();
        double p999 = mb.SelectThreshold("p999");
        check(p999 > 0 && mb.Threshold() == p999, "p999 selected");
        check(mb.SelectThreshold("bogus") == -1.0 && mb.Threshold() == p999,
              "unknown name leaves the threshold in force");
        check(mb.SelectThreshold("") == dflt, "empty name selects the default");
        check(mb.Score(std::vector<double>(kWidth - 1, 0.0)).score == -1.0, "one feature short: -1");

        std::ifstream in(argv[2]);
        std::string line;
        int rows = 0, bad = 0;
        while ( std::getline(in, line) ) {
            std::istringstream ls(line);
            std::string b;
            double score, thr;
            unsigned top[3];
            ls >> b >> score >> thr >> top[0] >> top[1] >> top[2];
            if ( b != backend )
                continue;
            std::vector<double> v(kWidth);
            for ( auto& x : v )
                ls >> x;
            // The features went through float in the plugin; doubles read back are the same.
            mqtt_ml::Result r = mb.Score(v);
            rows++;
            bool ok = r.score >= 0 && std::fabs(r.score - static_cast<float>(score)) <= 1e-6 * std::fabs(score) &&
                      r.threshold == static_cast<float>(thr) && r.anomaly == (r.score > r.threshold) &&
                      r.top_names.size() == 3 && r.top_errors.size() == 3;
            if ( ! ok )
                bad++;
        }
        check(rows > 0 && bad == 0, std::string(backend) + ": " + std::to_string(rows) +
                                        " reference vectors scored through Model as the plugin did");
    }
    std::printf("capi-model: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
