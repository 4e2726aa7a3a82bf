# `cpack -G DEB` in a build directory (scripts/package): procpool_VERSION_ARCH.deb, laid
# out for /usr, with the unit in /lib/systemd/system, /etc/procpool/procpool.toml as a
# conffile, and maintainer scripts that create the procpool user and start the service
# where systemd runs (scripts/debian/).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME procpool)
set(CPACK_PACKAGE_VENDOR "procpool developers")
set(CPACK_PACKAGE_CONTACT "procpool developers <procpool@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "crash-isolating multi-process worker pool")
set(CPACK_PACKAGE_DESCRIPTION
    "A supervisor starts one worker process per usable core and feeds them tasks through\nshared-memory rings; a worker that crashes takes down only itself. Command line,\nsystemd service (procpool serve) and C++ library.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)  # Depends from the binaries' libraries
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")  # postinst creates the service user
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${PROJECT_SOURCE_DIR}/scripts/debian/postinst;${PROJECT_SOURCE_DIR}/scripts/debian/prerm;${PROJECT_SOURCE_DIR}/scripts/debian/postrm;${PROJECT_SOURCE_DIR}/scripts/debian/conffiles")
include(CPack)
