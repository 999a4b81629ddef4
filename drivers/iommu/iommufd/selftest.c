// SPDX-License-Identifier: GPL-2.0-only
/*
 * CONFIG_IOMMUFD_TEST: the IOMMU_TEST_CMD ioctl.
 *
 * Test operations reach into the subsystem to set up what userspace alone
 * cannot (a device's reserved IOVA, later mock devices and domains) and to
 * check internal invariants. Nothing here is built into a production
 * kernel, and no production path calls into this file.
 */
#include <linux/overflow.h>

#include "iommufd_private.h"
#include "iommufd_test.h"

static int iommufd_test_add_reserved(struct iommufd_ucmd *ucmd)
{
	struct iommu_test_cmd *cmd = ucmd->args;
	struct iommufd_ioas *ioas;
	unsigned long last;
	int rc;

	if (!cmd->add_reserved.length)
		return -EINVAL;
	if (cmd->add_reserved.start > ULONG_MAX ||
	    cmd->add_reserved.length > ULONG_MAX ||
	    check_add_overflow((unsigned long)cmd->add_reserved.start,
			       (unsigned long)cmd->add_reserved.length - 1,
			       &last))
		return -EOVERFLOW;

	ioas = iommufd_ioas_lookup(ucmd->ictx, cmd->id);
	if (IS_ERR(ioas))
		return PTR_ERR(ioas);
	down_write(&ioas->iopt.iova_rwsem);
	/* No owner: the reservation lasts as long as the IOAS. */
	rc = iopt_reserve_iova(&ioas->iopt, cmd->add_reserved.start, last,
			       NULL);
	up_write(&ioas->iopt.iova_rwsem);
	iommufd_put_object(&ioas->obj);
	return rc;
}

/**
 * iommufd_test() - run one IOMMU_TEST_CMD operation
 * @ucmd: the ioctl
 *
 * Return: the operation's result; -EOPNOTSUPP for operations this tree
 * does not implement.
 */
int iommufd_test(struct iommufd_ucmd *ucmd)
{
	struct iommu_test_cmd *cmd = ucmd->args;

	if (cmd->__reserved)
		return -EOPNOTSUPP;

	switch (cmd->op) {
	case IOMMU_TEST_OP_ADD_RESERVED:
		return iommufd_test_add_reserved(ucmd);
	default:
		return iommufd_ucmd_fail(ucmd, -EOPNOTSUPP,
					 "test operation %u is not supported",
					 cmd->op);
	}
}
