#pragma once
// The mode of the files the kinds make (thumbnails, downloads), in one place for both the
// workers' kinds and the download module.
#include <sys/types.h>

namespace procpool::kinds {

// The mode of an output file once complete, as cp and curl -o give it: 0666 less the
// process's umask (a service sets its umask in its unit: UMask=0027 lets its group read).
// Temporaries are owner-only until then.
mode_t output_file_mode();

}  // namespace procpool::kinds
