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
  // A valid config's resolved YAML must parse back to the same config.
  const std::string resolved = campaign_config_yaml(c);
  const CampaignConfig again = parse_campaign_config(resolved, "resolved.yaml", "/fuzz");
  if (campaign_config_yaml(again) != resolved) {
    throw std::logic_error("resolved config does not round-trip:\n" + resolved);
  }
  return 0;
}

}  // namespace dnnfi::fuzz
