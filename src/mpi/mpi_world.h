// The MPI processes of one job, as the campaign driver uses them: byte messages with a tag,
// polled (never a blocking receive, which would spin a core inside MPI), sent by the main thread
// only (MPI_THREAD_FUNNELED: compute threads never call MPI). Errors return instead of aborting
// the job, so that a dead worker rank costs its work in flight, not the campaign.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <list>
#include <optional>
#include <string>

namespace dnnfi {

struct MpiMessage {
  int source = -1;
  int tag = 0;
  std::string bytes;
};

class MpiWorld {
 public:
  // True when an MPI launcher (mpirun, mpiexec, srun) started this process. Only then does the
  // CLI initialise MPI: a plain `dnnfi` run never touches it.
  static bool launched();

  // MPI_Init_thread (funneled); throws Error if MPI cannot start.
  MpiWorld(int* argc, char*** argv);
  ~MpiWorld();  // waits briefly for sends still in flight, then MPI_Finalize (unless skipped)
  MpiWorld(const MpiWorld&) = delete;
  MpiWorld& operator=(const MpiWorld&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }

  // Sends and returns once the buffer may be reused (the worker side: rank 0 always receives).
  void send(int dest, int tag, const std::string& bytes);
  // Starts a send and returns at once; the message is kept until it completes. A message to a
  // rank that died stays pending (forget_sends_to drops it) instead of blocking the caller.
  void post(int dest, int tag, std::string bytes);
  // Completes the posted sends that can complete; returns how many are still pending.
  std::size_t progress_sends();
  void forget_sends_to(int dest);

  // The next message from `source` (-1: any rank), or nothing if none has arrived in full.
  // Never blocks: a long message is received in the background (matched probe + MPI_Imrecv),
  // so one whose sender died half-way cannot hang the caller. Messages from one sender come
  // back in the order they were sent.
  std::optional<MpiMessage> poll(int source = -1);
  // Drops what `source` (a rank that died) is still sending.
  void forget_receives_from(int source);

  // After a rank died, MPI_Finalize may wait for it forever (OpenMPI 4's closing fence); under
  // `mpirun --enable-recovery` a process that exits without it ends the job cleanly instead.
  void skip_finalize() { skip_finalize_ = true; }

 private:
  struct Pending {
    int dest = -1;  // the peer
    int tag = 0;
    std::string bytes;  // MPI reads it until the request completes: never moved meanwhile
    MPI_Request request = MPI_REQUEST_NULL;
  };
  int rank_ = 0;
  int size_ = 1;
  bool skip_finalize_ = false;
  std::list<Pending> pending_;
  std::list<Pending> abandoned_;  // sends to dead ranks: buffers kept until the end
  std::list<Pending> incoming_;   // receives in progress (dest: the sender), in match order
  std::list<Pending> lost_;       // receives from dead ranks: buffers kept until the end
};

}  // namespace dnnfi
