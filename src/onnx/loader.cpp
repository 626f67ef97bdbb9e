#include "onnx/loader.h"

#include <onnx/onnx_pb.h>

#include <climits>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "core/file_bytes.h"

namespace dnnfi {

namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kMinIrVersion = 3;
constexpr std::int64_t kMaxIrVersion = 9;

std::string read_file(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw LoadError(path + ": no such file");
  std::string bytes;
  if (!read_file_bytes(path, bytes)) throw LoadError(path + ": cannot read file");
  return bytes;
}

// Reads [offset, offset+length) of an external data file, refusing locations that escape the
// model's folder.
std::string read_external(const onnx::TensorProto& proto, const std::string& base_dir,
                          const std::string& what) {
  std::string location;
  std::int64_t offset = 0;
  std::int64_t length = -1;
  for (const auto& kv : proto.external_data()) {
    try {
      if (kv.key() == "location") {
        location = kv.value();
      } else if (kv.key() == "offset") {
        offset = std::stoll(kv.value());
      } else if (kv.key() == "length") {
        length = std::stoll(kv.value());
      }
    } catch (const std::exception&) {
      throw LoadError(what + ": bad external_data entry '" + kv.key() + "'");
    }
  }
  if (location.empty()) throw LoadError(what + ": external data without a location");
  const fs::path rel(location);
  if (rel.is_absolute()) throw LoadError(what + ": external data location must be relative");
  for (const auto& part : rel) {
    if (part == "..") throw LoadError(what + ": external data location leaves the model folder");
  }
  const fs::path full = fs::path(base_dir) / rel;
  std::ifstream in(full, std::ios::binary);
  if (!in) throw LoadError(what + ": cannot open external data file '" + full.string() + "'");
  in.seekg(0, std::ios::end);
  const std::int64_t size = static_cast<std::int64_t>(in.tellg());
  if (offset < 0 || offset > size) throw LoadError(what + ": external data offset out of range");
  if (length < 0) length = size - offset;
  if (length > size - offset) {
    throw LoadError(what + ": external data '" + full.string() + "' is shorter than expected");
  }
  std::string buf(static_cast<std::size_t>(length), '\0');
  in.seekg(offset);
  in.read(buf.data(), length);
  if (!in) throw LoadError(what + ": cannot read external data '" + full.string() + "'");
  return buf;
}

template <typename Src, typename Dst>
void copy_field(const google::protobuf::RepeatedField<Src>& field, Tensor& t,
                const std::string& what) {
  if (static_cast<std::int64_t>(field.size()) != t.numel()) {
    throw LoadError(what + ": has " + std::to_string(field.size()) + " values, shape " +
                    shape_to_string(t.shape()) + " needs " + std::to_string(t.numel()));
  }
  Dst* out = t.data<Dst>();
  for (int i = 0; i < field.size(); ++i) out[i] = static_cast<Dst>(field.Get(i));
}

// Protobuf wire format (https://protobuf.dev/programming-guides/encoding/), read just enough to
// leave the initializers' raw_data in the model file's bytes: protobuf would copy each into a
// fresh string (a page fault per 4 KiB on top of the copy), to be copied once more into a tensor.
struct WireField {
  std::uint64_t number = 0;
  std::uint64_t type = 0;
  std::string_view whole;    // the key and the value
  std::string_view payload;  // the value of a length-delimited field
};

bool read_varint(std::string_view& bytes, std::uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64 && !bytes.empty(); shift += 7) {
    const auto b = static_cast<std::uint8_t>(bytes.front());
    bytes.remove_prefix(1);
    v |= std::uint64_t{b & 0x7Fu} << shift;
    if ((b & 0x80u) == 0) return true;
  }
  return false;
}

// Reads the field at the front of `bytes` and advances past it. False on malformed bytes and on
// groups (wire types 3 and 4, which ONNX does not use).
bool next_field(std::string_view& bytes, WireField& f) {
  const char* start = bytes.data();
  std::uint64_t key = 0, v = 0;
  if (!read_varint(bytes, key)) return false;
  f.number = key >> 3;
  f.type = key & 7;
  std::size_t skip = 0;
  switch (f.type) {
    case 0:
      if (!read_varint(bytes, v)) return false;
      break;
    case 1:
      skip = 8;
      break;
    case 5:
      skip = 4;
      break;
    case 2:
      if (!read_varint(bytes, v) || v > bytes.size()) return false;
      f.payload = bytes.substr(0, static_cast<std::size_t>(v));
      skip = static_cast<std::size_t>(v);
      break;
    default:
      return false;
  }
  if (skip > bytes.size()) return false;
  bytes.remove_prefix(skip);
  f.whole = std::string_view(start, static_cast<std::size_t>(bytes.data() - start));
  return true;
}

// Copies a message's fields other than `number` into `rest` and lists the payloads of field
// `number` in `found`. False on malformed bytes or when that field is not length-delimited.
bool split_field(std::string_view message, std::uint64_t number, std::string& rest,
                 std::vector<std::string_view>& found) {
  rest.clear();
  found.clear();
  WireField f;
  while (!message.empty()) {
    if (!next_field(message, f)) return false;
    if (f.number != number) {
      rest.append(f.whole);
    } else if (f.type == 2) {
      found.push_back(f.payload);
    } else {
      return false;
    }
  }
  return true;
}

// Parses a model file's bytes, leaving each initializer's raw_data in them: raw[i] is initializer
// i's (nullopt when it has none). Field numbers from onnx.proto: ModelProto.graph 7,
// GraphProto.initializer 5, TensorProto.raw_data 9. False when the bytes are not one graph whose
// tensors each hold raw_data at most once (protobuf would merge repeated occurrences), or do not
// parse: the caller then parses them whole, as protobuf defines.
bool parse_leaving_raw_data(std::string_view file, onnx::ModelProto& model,
                            std::vector<std::optional<std::string_view>>& raw) {
  std::string rest;
  std::vector<std::string_view> graph, inits, data;
  if (!split_field(file, 7, rest, graph) || graph.size() != 1) return false;
  if (!model.ParseFromString(rest)) return false;
  if (!split_field(graph[0], 5, rest, inits)) return false;
  onnx::GraphProto& gp = *model.mutable_graph();
  if (!gp.ParseFromString(rest)) return false;
  raw.clear();
  for (std::string_view init : inits) {
    if (!split_field(init, 9, rest, data) || data.size() > 1) return false;
    if (!gp.add_initializer()->ParseFromString(rest)) return false;
    raw.push_back(data.empty() ? std::nullopt : std::optional<std::string_view>(data[0]));
  }
  return true;
}

}  // namespace

Tensor tensor_from_proto(const onnx::TensorProto& proto, const std::string& base_dir,
                         const std::string& what, std::optional<std::string_view> raw_data) {
  const DType dtype = dtype_from_onnx(proto.data_type());
  if (dtype == DType::kUndefined) {
    throw UnsupportedError(what + ": unsupported tensor data type " +
                           std::to_string(proto.data_type()));
  }
  if (proto.has_segment()) throw UnsupportedError(what + ": segmented tensors are not supported");
  Shape shape;
  for (std::int64_t d : proto.dims()) {
    if (d < 0) throw LoadError(what + ": negative dimension " + std::to_string(d));
    shape.push_back(d);
  }
  // Guard against absurd sizes from corrupt files before allocating.
  std::int64_t numel = 1;
  for (std::int64_t d : shape) {
    if (d != 0 && numel > (std::int64_t{1} << 40) / d) throw LoadError(what + ": tensor too large");
    numel *= d;
  }
  Tensor t(dtype, shape);
  const std::size_t nbytes = t.nbytes();
  const bool external = proto.data_location() == onnx::TensorProto::EXTERNAL;
  if (external || raw_data || proto.has_raw_data()) {
    std::string external_bytes;
    if (external) external_bytes = read_external(proto, base_dir, what);
    const std::string_view raw = external   ? external_bytes
                                 : raw_data ? *raw_data
                                            : std::string_view(proto.raw_data());  // no copy
    if (raw.size() != nbytes) {
      throw LoadError(what + ": holds " + std::to_string(raw.size()) + " bytes, shape " +
                      shape_to_string(shape) + " of " + std::string(dtype_name(dtype)) + " needs " +
                      std::to_string(nbytes));
    }
    if (nbytes) std::memcpy(t.raw(), raw.data(), nbytes);  // little-endian host, as ONNX stores
    return t;
  }
  switch (dtype) {
    case DType::kFloat32:
      copy_field<float, float>(proto.float_data(), t, what);
      break;
    case DType::kFloat64:
      copy_field<double, double>(proto.double_data(), t, what);
      break;
    case DType::kInt64:
      copy_field<std::int64_t, std::int64_t>(proto.int64_data(), t, what);
      break;
    case DType::kUInt32:
      copy_field<std::uint64_t, std::uint32_t>(proto.uint64_data(), t, what);
      break;
    case DType::kUInt64:
      copy_field<std::uint64_t, std::uint64_t>(proto.uint64_data(), t, what);
      break;
    case DType::kInt32:
      copy_field<std::int32_t, std::int32_t>(proto.int32_data(), t, what);
      break;
    case DType::kInt16:
      copy_field<std::int32_t, std::int16_t>(proto.int32_data(), t, what);
      break;
    case DType::kUInt16:
    case DType::kFloat16:
    case DType::kBFloat16:
      copy_field<std::int32_t, std::uint16_t>(proto.int32_data(), t, what);
      break;
    case DType::kInt8:
      copy_field<std::int32_t, std::int8_t>(proto.int32_data(), t, what);
      break;
    case DType::kUInt8:
      copy_field<std::int32_t, std::uint8_t>(proto.int32_data(), t, what);
      break;
    case DType::kBool: {
      copy_field<std::int32_t, std::uint8_t>(proto.int32_data(), t, what);
      for (auto& b : t.span<std::uint8_t>()) b = b ? 1 : 0;
      break;
    }
    case DType::kUndefined:
      break;
  }
  return t;
}

Tensor load_tensor_pb(const std::string& path) {
  const std::string bytes = read_file(path);
  onnx::TensorProto proto;
  if (!proto.ParseFromString(bytes)) throw LoadError(path + ": not a serialized ONNX TensorProto");
  return tensor_from_proto(proto, fs::path(path).parent_path().string(), path);
}

namespace {

Attribute convert_attribute(const onnx::AttributeProto& a, const std::string& base_dir,
                            const std::string& what) {
  Attribute out;
  using AP = onnx::AttributeProto;
  switch (a.type()) {
    case AP::FLOAT:
      out.kind = Attribute::Kind::kFloat;
      out.f = a.f();
      break;
    case AP::INT:
      out.kind = Attribute::Kind::kInt;
      out.i = a.i();
      break;
    case AP::STRING:
      out.kind = Attribute::Kind::kString;
      out.s = a.s();
      break;
    case AP::TENSOR:
      out.kind = Attribute::Kind::kTensor;
      out.t = tensor_from_proto(a.t(), base_dir, what + " attribute '" + a.name() + "'");
      break;
    case AP::FLOATS:
      out.kind = Attribute::Kind::kFloats;
      out.floats.assign(a.floats().begin(), a.floats().end());
      break;
    case AP::INTS:
      out.kind = Attribute::Kind::kInts;
      out.ints.assign(a.ints().begin(), a.ints().end());
      break;
    case AP::STRINGS:
      out.kind = Attribute::Kind::kStrings;
      out.strings.assign(a.strings().begin(), a.strings().end());
      break;
    default:
      out.kind = Attribute::Kind::kOther;
      break;  // graphs, sparse tensors, type protos
  }
  return out;
}

}  // namespace

Graph load_onnx(const std::string& path) {
  // Parsed from the file mapped in place, the initializers' raw_data left there until each is
  // copied into its tensor (parse_leaving_raw_data); a file that cannot be mapped is read as a
  // stream. Peak memory stays near one copy of the weights besides the file's pages, which the
  // system may reclaim.
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw LoadError(path + ": no such file");
  if (fs::file_size(path, ec) == 0) {
    throw LoadError(path + ": not a valid ONNX model (protobuf parse failed)");
  }
  onnx::ModelProto model;
  const MappedFile mapped(path);
  std::vector<std::optional<std::string_view>> raw_data;  // per initializer, in the mapping
  bool parsed = false;
  if (mapped.ok() && mapped.size() <= static_cast<std::size_t>(INT_MAX)) {
    parsed = parse_leaving_raw_data({mapped.data(), mapped.size()}, model, raw_data);
    if (!parsed) {
      model.Clear();
      raw_data.clear();
      parsed = model.ParseFromArray(mapped.data(), static_cast<int>(mapped.size()));
    }
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw LoadError(path + ": cannot open file");
    parsed = model.ParseFromIstream(&in);
  }
  if (!parsed) throw LoadError(path + ": not a valid ONNX model (protobuf parse failed)");
  if (!model.has_graph()) throw LoadError(path + ": not a valid ONNX model (no graph)");
  Graph g;
  g.source = path;
  g.ir_version = model.ir_version();
  if (g.ir_version < kMinIrVersion || g.ir_version > kMaxIrVersion) {
    throw UnsupportedError(path + ": unsupported ONNX IR version " + std::to_string(g.ir_version) +
                           " (supported " + std::to_string(kMinIrVersion) + ".." +
                           std::to_string(kMaxIrVersion) + ")");
  }
  for (const auto& op : model.opset_import()) {
    const std::string domain = op.domain() == "ai.onnx" ? "" : op.domain();
    g.opsets[domain] = op.version();
  }
  if (g.opsets.count("") == 0) throw UnsupportedError(path + ": model imports no ai.onnx opset");
  for (const auto& kv : model.metadata_props()) g.metadata[kv.key()] = kv.value();
  const std::int64_t opset = g.opsets[""];
  if (opset < kMinOnnxOpset || opset > kMaxOnnxOpset) {
    throw UnsupportedError(path + ": unsupported ai.onnx opset " + std::to_string(opset) +
                           " (supported " + std::to_string(kMinOnnxOpset) + ".." +
                           std::to_string(kMaxOnnxOpset) + ")");
  }
  const std::string base_dir = fs::path(path).parent_path().string();
  onnx::GraphProto& gp = *model.mutable_graph();
  if (gp.sparse_initializer_size() > 0)
    throw UnsupportedError(path + ": sparse initializers are not supported");

  std::unordered_map<std::string, int> ids;
  auto value_id = [&](const std::string& name) {
    auto it = ids.find(name);
    if (it != ids.end()) return it->second;
    const int id = static_cast<int>(g.values.size());
    g.values.push_back(Value{});
    g.values.back().name = name;
    ids.emplace(name, id);
    return id;
  };

  for (int i = 0; i < gp.initializer_size(); ++i) {
    onnx::TensorProto& init = *gp.mutable_initializer(i);
    if (init.name().empty()) throw LoadError(path + ": an initializer has no name");
    if (ids.count(init.name()))
      throw LoadError(path + ": initializer '" + init.name() + "' is defined twice");
    const int id = value_id(init.name());
    Value& v = g.values[id];
    v.is_initializer = true;
    v.initializer =
        tensor_from_proto(init, base_dir, path + ": initializer '" + init.name() + "'",
                          raw_data.empty() ? std::nullopt : raw_data[static_cast<std::size_t>(i)]);
    v.info = v.initializer.info();
    std::string().swap(*init.mutable_raw_data());
  }
  std::set<std::string> seen_inputs;
  for (const auto& in : gp.input()) {
    if (!seen_inputs.insert(in.name()).second) {
      throw LoadError(path + ": graph input '" + in.name() + "' is listed twice");
    }
    const int id = value_id(in.name());
    Value& v = g.values[id];
    if (v.is_initializer) continue;  // an initializer with a default value: treated as constant
    if (!in.type().has_tensor_type()) {
      throw UnsupportedError(path + ": graph input '" + in.name() + "' is not a tensor");
    }
    const auto& tt = in.type().tensor_type();
    v.info.dtype = dtype_from_onnx(tt.elem_type());
    if (v.info.dtype == DType::kUndefined) {
      throw UnsupportedError(path + ": graph input '" + in.name() +
                             "' has unsupported element type " + std::to_string(tt.elem_type()));
    }
    if (!tt.has_shape()) throw LoadError(path + ": graph input '" + in.name() + "' has no shape");
    for (const auto& d : tt.shape().dim()) {
      if (d.has_dim_value()) {
        if (d.dim_value() < 0)
          throw LoadError(path + ": graph input '" + in.name() + "' has a negative dim");
        v.info.shape.push_back(d.dim_value());
        v.dim_names.emplace_back();
      } else {
        v.info.shape.push_back(-1);
        v.dim_names.push_back(d.has_dim_param() ? d.dim_param() : std::string());
      }
    }
    g.inputs.push_back(id);
  }

  std::set<std::string> node_names;
  for (int n = 0; n < gp.node_size(); ++n) {
    const auto& np = gp.node(n);
    Node node;
    node.op_type = np.op_type();
    node.domain = np.domain() == "ai.onnx" ? "" : np.domain();
    std::string name = np.name().empty() ? node.op_type + "_" + std::to_string(n) : np.name();
    if (node_names.count(name)) name += "_" + std::to_string(n);
    node_names.insert(name);
    node.name = name;
    const std::string what = path + ": node '" + node.name + "' (" + node.op_type + ")";
    for (const auto& in : np.input()) {
      node.inputs.push_back(in.empty() ? kNoValue : value_id(in));
    }
    // Trailing omitted inputs carry no information.
    while (!node.inputs.empty() && node.inputs.back() == kNoValue) node.inputs.pop_back();
    for (const auto& out : np.output()) {
      if (out.empty()) {
        node.outputs.push_back(kNoValue);
        continue;
      }
      const int id = value_id(out);
      node.outputs.push_back(id);
    }
    for (const auto& a : np.attribute()) {
      if (a.has_ref_attr_name() && !a.ref_attr_name().empty()) {
        throw UnsupportedError(what + ": attribute references are not supported");
      }
      node.attributes[a.name()] = convert_attribute(a, base_dir, what);
    }
    g.nodes.push_back(std::move(node));
  }
  for (const auto& out : gp.output()) {
    if (out.has_type() && !out.type().has_tensor_type()) {
      throw UnsupportedError(path + ": graph output '" + out.name() + "' is not a tensor");
    }
    auto it = ids.find(out.name());
    if (it == ids.end()) {
      throw LoadError(path + ": graph output '" + out.name() + "' is not produced by any node");
    }
    g.outputs.push_back(it->second);
  }
  if (g.outputs.empty()) throw LoadError(path + ": the graph has no outputs");
  g.finalize();
  return g;
}

}  // namespace dnnfi
