// Fuzz target for campaign configs (dnnfi keys and TensorFI2/TensorFI+ keys).
#include <stdexcept>
#include <string>

#include "campaign/config.h"
#include "core/error.h"
#include "targets.h"

namespace dnnfi::fuzz {

int config(const std::uint8_t* data, std::size_t size) {
  const std::string yaml(reinterpret_cast<const char*>(data), size);
  CampaignConfig c;
  try {
    c = parse_campaign_config(yaml, "fuzz.yaml", "/fuzz");
    validate_campaign_config(c);
  } catch (const Error&) {
    return 0;
  }
  // A valid config's resolved YAML (absolute paths, as a campaign stores it) must parse back to
  // the same config.
  absolutize_paths(c);
  const std::string resolved = campaign_config_yaml(c);
  const CampaignConfig again = parse_campaign_config(resolved, "resolved.yaml", "/fuzz");
  if (const std::string twice = campaign_config_yaml(again); twice != resolved) {
    throw std::logic_error("resolved config does not round-trip:\n" + resolved + "\nparsed back:\n" +
                           twice);
  }
  return 0;
}

}  // namespace dnnfi::fuzz
