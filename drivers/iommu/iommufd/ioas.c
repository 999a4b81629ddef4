// SPDX-License-Identifier: GPL-2.0-only
/*
 * The IOMMU_IOAS_* ioctls. Each handler checks its arguments, looks up
 * the objects it needs, asks the io_pagetable layer to do the work and
 * answers userspace; none touches the IOVA space directly.
 */
#include <linux/slab.h>
#include <uapi/linux/iommufd.h>

#include "iommufd_private.h"

void iommufd_ioas_destroy(struct iommufd_object *obj)
{
	struct iommufd_ioas *ioas = container_of(obj, struct iommufd_ioas, obj);

	iopt_destroy_table(&ioas->iopt);
}

int iommufd_ioas_alloc_ioctl(struct iommufd_ucmd *ucmd)
{
	struct iommu_ioas_alloc *cmd = ucmd->cmd;
	struct iommufd_ioas *ioas;
	int rc;

	if (cmd->flags)
		return -EOPNOTSUPP;

	ioas = iommufd_object_alloc(ucmd->ictx, struct iommufd_ioas,
				    IOMMUFD_OBJ_IOAS);
	if (IS_ERR(ioas))
		return PTR_ERR(ioas);
	iopt_init_table(&ioas->iopt);

	cmd->out_ioas_id = ioas->obj.id;
	rc = iommufd_ucmd_respond(ucmd, sizeof(*cmd));
	if (rc) {
		iommufd_object_abort_and_destroy(ucmd->ictx, &ioas->obj);
		return rc;
	}
	iommufd_object_finalize(ucmd->ictx, &ioas->obj);
	return 0;
}

int iommufd_ioas_iova_ranges(struct iommufd_ucmd *ucmd)
{
	struct iommu_ioas_iova_ranges *cmd = ucmd->cmd;
	struct iommu_iova_range __user *ranges;
	struct iommufd_ioas *ioas;
	unsigned long start, last, from = 0;
	u32 max_iovas = cmd->num_iovas;
	u32 count = 0;
	int rc = 0;

	if (cmd->__reserved)
		return -EOPNOTSUPP;

	ioas = iommufd_get_ioas(ucmd->ictx, cmd->ioas_id);
	if (IS_ERR(ioas))
		return PTR_ERR(ioas);

	ranges = u64_to_user_ptr(cmd->allowed_iovas);
	down_read(&ioas->iopt.iova_rwsem);
	while (iopt_find_usable_span(&ioas->iopt, from, &start, &last)) {
		if (count < max_iovas) {
			struct iommu_iova_range range = {
				.start = start,
				.last = last,
			};

			if (copy_to_user(&ranges[count], &range,
					 sizeof(range))) {
				rc = -EFAULT;
				break;
			}
		}
		count++;
		if (last == ULONG_MAX)
			break;
		from = last + 1;
	}
	cmd->num_iovas = count;
	cmd->out_iova_alignment = ioas->iopt.iova_alignment;
	up_read(&ioas->iopt.iova_rwsem);
	if (rc)
		goto out_put;

	rc = iommufd_ucmd_respond(ucmd, sizeof(*cmd));
	if (!rc && count > max_iovas)
		rc = -EMSGSIZE;
out_put:
	iommufd_put_object(&ioas->obj);
	return rc;
}
