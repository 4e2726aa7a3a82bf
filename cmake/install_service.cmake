# Run at install time (install(SCRIPT)), when CMAKE_INSTALL_PREFIX is the one being
# installed to: /usr/local by default, /usr when CPack builds the .deb. The unit names the
# executable under that prefix; a /usr install also gets /etc/procpool/procpool.toml
# (every key commented out at its default), the path procpool reads by default.
file(READ "${PROCPOOL_SOURCE_DIR}/scripts/procpool.service" unit)
string(REPLACE "/usr/local/" "${CMAKE_INSTALL_PREFIX}/" unit "${unit}")
string(RANDOM LENGTH 12 nonce)  # an install and a cpack may run at once (tests)
set(staged "${PROCPOOL_BINARY_DIR}/staged-${nonce}/procpool.service")
file(WRITE "${staged}" "${unit}")
file(INSTALL "${staged}" DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")
file(REMOVE_RECURSE "${PROCPOOL_BINARY_DIR}/staged-${nonce}")
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  file(INSTALL "${PROCPOOL_SOURCE_DIR}/config/procpool.toml" DESTINATION "/etc/procpool")
endif()
