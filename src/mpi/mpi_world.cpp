#include "mpi/mpi_world.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <vector>

#include "core/error.h"

namespace dnnfi {

namespace {

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  throw Error(std::string("MPI: ") + what + ": " + std::string(msg, static_cast<std::size_t>(len)));
}

}  // namespace

bool MpiWorld::launched() {
  // OpenMPI's mpirun, PMIx launchers (srun --mpi=pmix, prterun), MPICH/Hydra and PMI-2 srun.
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK"}) {
    if (std::getenv(var) != nullptr) return true;
  }
  return false;
}

MpiWorld::MpiWorld(int* argc, char*** argv) {
  int provided = 0;
  check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "cannot initialise");
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
}

MpiWorld::~MpiWorld() {
  // A send to a live rank completes as soon as that rank receives it; one to a rank that died
  // never does, and must not hold up the end of the job.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (progress_sends() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!skip_finalize_) MPI_Finalize();
}

void MpiWorld::send(int dest, int tag, const std::string& bytes) {
  check(MPI_Send(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE, dest, tag, MPI_COMM_WORLD),
        "send failed");
}

void MpiWorld::post(int dest, int tag, std::string bytes) {
  Pending& p = pending_.emplace_back();
  p.dest = dest;
  p.bytes = std::move(bytes);  // before MPI_Isend takes its address
  check(MPI_Isend(p.bytes.data(), static_cast<int>(p.bytes.size()), MPI_BYTE, dest, tag,
                  MPI_COMM_WORLD, &p.request),
        "send failed");
}

std::size_t MpiWorld::progress_sends() {
  for (auto it = pending_.begin(); it != pending_.end();) {
    int done = 0;
    if (MPI_Test(&it->request, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS || done) {
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
  return pending_.size();
}

void MpiWorld::forget_sends_to(int dest) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->dest == dest) {
      // The request is left to MPI (freed, not cancelled: OpenMPI cannot cancel sends); splice
      // keeps its buffer where it is, alive until MPI_Finalize.
      MPI_Request_free(&it->request);
      abandoned_.splice(abandoned_.end(), pending_, it++);
    } else {
      ++it;
    }
  }
}

std::optional<MpiMessage> MpiWorld::poll(int source) {
  // Start receiving everything that has arrived.
  for (;;) {
    int flag = 0;
    MPI_Message msg;
    MPI_Status st;
    check(MPI_Improbe(source < 0 ? MPI_ANY_SOURCE : source, MPI_ANY_TAG, MPI_COMM_WORLD, &flag,
                      &msg, &st),
          "probe failed");
    if (!flag) break;
    int count = 0;
    MPI_Get_count(&st, MPI_BYTE, &count);
    Pending& in = incoming_.emplace_back();
    in.dest = st.MPI_SOURCE;
    in.tag = st.MPI_TAG;
    in.bytes.resize(static_cast<std::size_t>(count));  // never resized again while receiving
    check(MPI_Imrecv(in.bytes.data(), count, MPI_BYTE, &msg, &in.request), "receive failed");
  }
  // The first complete message, unless an earlier one from its sender is still arriving.
  std::vector<int> waiting;
  for (auto it = incoming_.begin(); it != incoming_.end(); ++it) {
    if ((source >= 0 && it->dest != source) ||
        std::find(waiting.begin(), waiting.end(), it->dest) != waiting.end()) {
      continue;
    }
    int done = 0;
    check(MPI_Test(&it->request, &done, MPI_STATUS_IGNORE), "receive failed");
    if (!done) {
      waiting.push_back(it->dest);
      continue;
    }
    MpiMessage m;
    m.source = it->dest;
    m.tag = it->tag;
    m.bytes = std::move(it->bytes);
    incoming_.erase(it);
    return m;
  }
  return std::nullopt;
}

void MpiWorld::forget_receives_from(int source) {
  for (auto it = incoming_.begin(); it != incoming_.end();) {
    if (it->dest == source) {
      lost_.splice(lost_.end(), incoming_, it++);
    } else {
      ++it;
    }
  }
}

}  // namespace dnnfi
