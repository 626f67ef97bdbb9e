#include "py_campaign.h"

#include <pybind11/stl.h>

#include <atomic>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "campaign/campaign.h"
#include "campaign/config.h"
#include "core/error.h"

namespace py = pybind11;

namespace dnnfi::python {

namespace {

// A Python value as the strings a command-line flag would carry ("0.5", ["0.5", "0.4"]).
std::vector<std::string> flag_values(py::handle v) {
  std::vector<std::string> out;
  if (py::isinstance<py::str>(v) || !py::isinstance<py::sequence>(v)) {
    out.push_back(py::str(v).cast<std::string>());
  } else {
    for (py::handle x : v) out.push_back(py::str(x).cast<std::string>());
  }
  return out;
}

// Applies keyword overrides as `dnnfi campaign` applies its flags (cmd_campaign.cpp): the same
// keys, the same precedence over the file, the same checks.
void apply_overrides(CampaignConfig& c, const py::dict& kw) {
  std::vector<std::pair<std::string, std::vector<std::string>>> pre;
  std::optional<std::vector<std::string>> dataset;
  std::optional<std::string> dataset_format;
  for (auto [k, v] : kw) {
    const auto key = k.cast<std::string>();
    if (v.is_none()) continue;
    if (key == "model") {
      c.model = v.cast<std::string>();
    } else if (key == "dataset") {
      dataset = flag_values(v);
    } else if (key == "dataset_format") {
      dataset_format = v.cast<std::string>();
    } else if (key == "labels") {
      c.dataset.labels = v.cast<std::string>();
    } else if (key == "samples") {
      c.samples = v.cast<std::int64_t>();
    } else if (key == "only_correct") {
      c.only_correct = c.only_correct || v.cast<bool>();
    } else if (key == "trials") {
      c.trials = v.cast<std::int64_t>();
    } else if (key == "target_halfwidth") {
      c.target_halfwidth = v.cast<double>();
    } else if (key == "seed") {
      c.seed = v.cast<std::uint64_t>();
    } else if (key == "threads") {
      c.threads = v.cast<int>();
    } else if (key == "strategy") {
      c.strategy = parse_strategy(v.cast<std::string>());
    } else if (key == "batch") {
      parse_batch(py::str(v).cast<std::string>(), c);
    } else if (key == "output") {
      c.output = v.cast<std::string>();
    } else if (key == "shard") {
      parse_shard(v.cast<std::string>(), c.shard_index, c.shard_count);
    } else if (key == "scale" || key == "mean" || key == "std" || key == "layout" ||
               key == "resize" || key == "center_crop") {
      pre.emplace_back(key, flag_values(v));
    } else if (key == "grayscale" || key == "bgr") {
      if (v.cast<bool>()) pre.push_back({key, {"true"}});
    } else {
      throw InputError(
          "unknown campaign override '" + key +
          "' (expected model, dataset, dataset_format, labels, samples, "
          "only_correct, trials, target_halfwidth, seed, threads, strategy, batch, output, "
          "shard, scale, mean, std, layout, resize, center_crop, grayscale, bgr)");
    }
  }
  if (dataset || dataset_format) {
    if (!dataset || !dataset_format) throw InputError("dataset and dataset_format go together");
    c.dataset.format = parse_dataset_format(*dataset_format);
    c.dataset.paths = *dataset;
    c.has_dataset = true;
  }
  c.preprocess.overlay(parse_preprocess_flags(pre));
}

class Campaign {
 public:
  // source: a config file path (is_file) or YAML text named `what` whose relative paths resolve
  // against base_dir.
  Campaign(const std::string& source, bool is_file, const std::string& what,
           const std::string& base_dir, const py::dict& overrides) {
    if (is_file) {
      config_ = load_campaign_config(source);
    } else {
      config_ = parse_campaign_config(source, what, base_dir);
    }
    apply_overrides(config_, overrides);
    if (config_.source.empty()) config_.source = "command line";
    validate_campaign_config(config_);
  }

  std::string yaml() const { return campaign_config_yaml(config_); }
  std::string output() const { return config_.output; }
  std::int64_t trials() const { return config_.trials; }

  // Returns (result dict, pending exception or None): the exception a signal handler or the
  // progress callback raised, which stopped the campaign; the Python layer raises it.
  py::tuple run(bool resume, py::object progress) {
    std::atomic<bool> stop{false};
    std::optional<py::error_already_set> pending;
    CampaignRunOptions opt;
    opt.resume = resume;
    opt.stop = &stop;
    opt.progress_interval_s = 0.2;
    // Called on this thread between run_campaign's waits; it must not throw (worker threads are
    // running), so a Python exception is kept and stops the campaign instead.
    opt.progress = [&](const CampaignProgress& p) {
      py::gil_scoped_acquire gil;
      if (pending) return;
      try {
        if (PyErr_CheckSignals() != 0) throw py::error_already_set();
        if (!progress.is_none()) {
          py::dict d;
          d["phase"] = p.phase;
          d["done"] = p.done;
          d["total"] = p.total;
          d["sdc"] = p.sdc;
          d["new_done"] = p.new_done;
          d["elapsed_s"] = p.elapsed_s;
          progress(d);
        }
      } catch (py::error_already_set& e) {
        pending.emplace(std::move(e));
        stop.store(true);
      } catch (const std::exception& e) {
        PyErr_SetString(PyExc_RuntimeError, e.what());
        pending.emplace();
        stop.store(true);
      }
    };
    CampaignRunResult r;
    {
      py::gil_scoped_release nogil;
      r = run_campaign(config_, opt);
    }
    py::dict d;
    d["db_path"] = r.db_path;
    d["trials_done"] = r.trials_done;
    d["new_trials"] = r.new_trials;
    d["complete"] = r.complete;
    d["reached_target"] = r.reached_target;
    d["seconds"] = r.seconds;
    d["batched_trials"] = r.batched_trials;
    py::object exc = pending ? pending->value() : py::none();
    return py::make_tuple(d, exc);
  }

 private:
  CampaignConfig config_;
};

}  // namespace

void bind_campaign(py::module_& m) {
  py::class_<Campaign>(m, "Campaign")
      .def(py::init<const std::string&, bool, const std::string&, const std::string&,
                    const py::dict&>(),
           py::arg("source"), py::arg("is_file"), py::arg("what"), py::arg("base_dir"),
           py::arg("overrides"))
      .def_property_readonly("yaml", &Campaign::yaml)
      .def_property_readonly("output", &Campaign::output)
      .def_property_readonly("trials", &Campaign::trials)
      .def("run", &Campaign::run, py::arg("resume") = false, py::arg("progress") = py::none());
}

}  // namespace dnnfi::python
