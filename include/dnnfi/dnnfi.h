// dnnfi — fault injection for deep-neural-network inference.
//
// Overview. A model file becomes a Graph (load_model), a Graph becomes an immutable, prepared
// Session (Session::create): every node validated, every shape inferred, constant subgraphs folded.
// A Session runs fault-free inference from any number of threads, each with its own ValueStore.
// The fault-injection layer (dnnfi/fault.h) keeps a golden run of one input and evaluates faults
// against it, recomputing only what each fault can reach.
//
// Worked example: run a model on an input and print the top-1 class.
//
//   #include <dnnfi/dnnfi.h>
//
//   int main() {
//     dnnfi::Graph graph = dnnfi::load_model("models/fmnist_resnet.onnx");   // throws dnnfi::Error
//     auto session = dnnfi::Session::create(std::move(graph));
//     std::vector<dnnfi::Tensor> inputs{dnnfi::load_npy("models/fmnist_sample_input.npy")};
//     std::vector<dnnfi::Tensor> outputs;
//     if (!session->run_once(inputs, outputs).is_ok()) return 1;
//     const float* logits = outputs[0].data<float>();
//     int best = 0;
//     for (int c = 1; c < 10; ++c) if (logits[c] > logits[best]) best = c;
//     std::printf("class %d\n", best);   // 9: ankle boot
//   }
//
// Errors: setup throws dnnfi::Error subclasses with a one-line message naming the file, node or
// value at fault (core/error.h); run time returns dnnfi::Status. The library never exits or aborts.
#pragma once

#include "core/dtype.h"
#include "core/error.h"
#include "core/npy.h"
#include "core/status.h"
#include "core/tensor.h"
#include "exec/model_file.h"
#include "exec/session.h"
#include "graph/graph.h"
